"""Configuration read from the environment, in one place.

Secrets are never read into these settings: only the *names* of the
environment variables that hold them, so settings can be shown and logged.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Mapping

from core.errors import InvalidInputError

ENV_PREFIX = "RAGTUNE_"


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    models_dir: Path
    anthropic_key_env: str = "ANTHROPIC_API_KEY"
    openai_key_env: str = "OPENAI_API_KEY"
    # Variables a self-hosted server's key may come from (a spec's `key_env` option names one).
    key_envs: tuple[str, ...] = ()
    # Where local models generate: "on" through the model server (started on demand; the app's
    # choice), "off" in this process (job workers), "auto" through it only when it already runs.
    model_server: str = "auto"
    # Who may use the pages: "off" (anyone who reaches them, as an admin), "password" (users in the store)
    # or "oidc" (users an OIDC provider signs in through st.login; their roles are in the store).
    auth: str = "off"
    auth_hours: float = 12.0  # how long a sign-in survives page reloads
    # The role of a user the OIDC provider signs in for the first time (core.access.roles.default_role checks it).
    default_role: str = "viewer"
    # Where job workers run: "local" (processes of this machine) or a Ray cluster's address
    # (ray://HOST:PORT, or its dashboard's http://HOST:8265); core.jobs.runners reads it.
    jobs: str = "local"
    heartbeat_s: float = 5.0  # how often a job's worker stamps its row; a row 3 beats old has no worker beating
    # Whether job workers and the model server are forked by the warm launcher (core.launcher), not started cold.
    job_launcher: bool = True

    AUTH_MODES: ClassVar[tuple[str, ...]] = ("off", "password", "oidc")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        data_dir = Path(env.get(f"{ENV_PREFIX}DATA_DIR", "data")).expanduser().resolve()
        models_dir = Path(env.get(f"{ENV_PREFIX}MODELS_DIR", "models")).expanduser().resolve()
        database_url = env.get("DATABASE_URL") or f"sqlite:///{data_dir / 'lab.db'}"
        return cls(
            data_dir=data_dir,
            database_url=database_url,
            models_dir=models_dir,
            anthropic_key_env=env.get(f"{ENV_PREFIX}ANTHROPIC_KEY_ENV", "ANTHROPIC_API_KEY"),
            openai_key_env=env.get(f"{ENV_PREFIX}OPENAI_KEY_ENV", "OPENAI_API_KEY"),
            key_envs=tuple(name.strip() for name in env.get(f"{ENV_PREFIX}KEY_ENVS", "").split(",") if name.strip()),
            model_server=env.get(f"{ENV_PREFIX}MODEL_SERVER", "auto").strip().lower(),
            auth=_auth_mode(env.get(f"{ENV_PREFIX}AUTH", "off")),
            auth_hours=_positive_hours(env.get(f"{ENV_PREFIX}AUTH_HOURS", "12")),
            default_role=env.get(f"{ENV_PREFIX}DEFAULT_ROLE", "viewer"),
            jobs=_jobs_runner(env.get(f"{ENV_PREFIX}JOBS", "local")),
            heartbeat_s=_heartbeat_seconds(env.get(f"{ENV_PREFIX}HEARTBEAT_S", "5")),
            job_launcher=_on_or_off("JOB_LAUNCHER", env.get(f"{ENV_PREFIX}JOB_LAUNCHER", "on")),
        )


def _on_or_off(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value not in ("on", "off"):
        raise InvalidInputError(f"{ENV_PREFIX}{name}={raw!r}: set it to on or off.")
    return value == "on"


def _jobs_runner(raw: str) -> str:
    runner = raw.strip()
    if runner == "local" or re.fullmatch(r"(ray|https?)://[^\s/:]+:\d+/?", runner):
        return runner.rstrip("/")
    raise InvalidInputError(f"{ENV_PREFIX}JOBS={raw!r}: set it to local (the default), or to a Ray cluster's address: "
                            "ray://HOST:PORT, or its dashboard's http://HOST:8265.")


def _auth_mode(raw: str) -> str:
    mode = raw.strip().lower()
    if mode not in Settings.AUTH_MODES:
        raise InvalidInputError(f"{ENV_PREFIX}AUTH={raw!r}: set it to one of {', '.join(Settings.AUTH_MODES)}.")
    return mode


def _positive_hours(raw: str) -> float:
    try:
        hours = float(raw)
    except ValueError:
        hours = 0.0
    if not 0 < hours < 24 * 366:
        raise InvalidInputError(f"{ENV_PREFIX}AUTH_HOURS={raw!r}: set it to how many hours a sign-in lasts, e.g. 12.")
    return hours


def _heartbeat_seconds(raw: str) -> float:
    try:
        seconds = float(raw)
    except ValueError:
        seconds = 0.0
    if not 0.2 <= seconds <= 600:
        raise InvalidInputError(f"{ENV_PREFIX}HEARTBEAT_S={raw!r}: set it to how many seconds apart a job's worker "
                                "stamps its row, from 0.2 to 600 (default 5).")
    return seconds


def get_settings() -> Settings:
    """Settings as the environment says now (cheap; read on every call so tests can change it)."""
    return Settings.from_env()
