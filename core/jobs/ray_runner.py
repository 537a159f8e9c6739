"""Jobs on a Ray cluster, through Ray's Jobs API (`ray.job_submission.JobSubmissionClient`).

The cluster runs the same worker command as this machine would, from a copy of the project that Ray
ships with the job (`runtime_env` working_dir). What the cluster needs:
- the store, reachable from its workers: PostgreSQL (DATABASE_URL), or for a one-machine cluster the
  SQLite file itself;
- the data and models folders at the same paths on every node (shared storage), since the worker
  reads datasets and writes adapters there;
- Python with this project's requirements on its nodes.

Ray is an optional extra (`pip install "ray[default]==2.60.0"`), imported only when a job uses it.
"""

from __future__ import annotations

import hashlib
import os
import shlex
from functools import cached_property
from typing import Any, Optional
from urllib.parse import urlsplit

from core.errors import BackendError, InvalidInputError
from core.jobs.processes import worker_command
from core.jobs.runners import JobRunner, job_gpus
from core.project import PROJECT_ROOT
from core.settings import ENV_PREFIX, get_settings
from core.store.tables import Job

RAY_EXTRA = 'pip install "ray[default]==2.60.0"'
# What the cluster's copy of the project leaves out: the environment, history, and the lab's data.
NOT_SHIPPED = [".venv", ".git", "data", "models", ".hypothesis", "**/__pycache__", "bench/results"]
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
ACTIVE_STATES = ("PENDING", "RUNNING")


class RayRunner(JobRunner):
    def __init__(self, address: str):
        self.name = address

    @cached_property
    def client(self):
        try:
            from ray.job_submission import JobSubmissionClient
        except ImportError:
            raise InvalidInputError(f"RAGTUNE_JOBS={self.name} names a Ray cluster, but Ray is not installed here: "
                                    f"{RAY_EXTRA}.") from None
        try:
            return JobSubmissionClient(self.name)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise BackendError(f"The Ray cluster at {self.name} does not answer ({_message(exc)}): start it, or "
                               "set RAGTUNE_JOBS=local to run jobs on this machine.") from None

    def check(self) -> None:
        """Refuse, before a job is queued, what the cluster could not run."""
        settings = get_settings()
        if settings.database_url.startswith("sqlite") and not self.is_on_this_machine():
            raise InvalidInputError(f"Jobs on the Ray cluster at {self.name} write to the store, and a SQLite file "
                                    "is reachable only from this machine: set DATABASE_URL to a PostgreSQL server "
                                    "the cluster's workers reach (README: Jobs on a Ray cluster).")
        self.client  # noqa: B018 (Ray installed, the cluster answering)

    def placement(self, job: Job) -> dict[str, Any]:
        """The cluster's own Python runs the worker, in the project copy Ray ships; Ray keeps the log."""
        return {"runner": self.name, "command": worker_command(job.id, job_gpus(job), python="python"),
                "log_path": ""}

    def start(self, job: Job) -> dict[str, Any]:
        submission_id = submission_id_of(job)
        gpus = job_gpus(job)
        try:
            self.client.submit_job(entrypoint=shlex.join(job.command), submission_id=submission_id,
                                   runtime_env={"working_dir": str(PROJECT_ROOT), "excludes": NOT_SHIPPED,
                                                "env_vars": worker_environment()},
                                   entrypoint_num_cpus=1, entrypoint_num_gpus=gpus or None,
                                   metadata={"job": str(job.id), "kind": job.kind})
        except RuntimeError as exc:
            if "already exists" not in str(exc):
                raise BackendError(f"The Ray cluster at {self.name} refused job {job.id}: {_message(exc)}") from None
        return {"runner_ref": submission_id}

    def is_running(self, job: Job) -> bool:
        """False only on a definite answer: the job ended, the cluster has forgotten it (its head restarted),
        or nothing listens at the address any more. A slow answer proves nothing: the job may be running."""
        from requests.exceptions import ConnectionError as Refused

        try:
            return str(self.client.get_job_status(job.runner_ref)) in ACTIVE_STATES
        except Refused:  # the head is down, and its jobs with it
            return False
        except (BackendError, InvalidInputError):  # a client that could not be made: the head is down
            return False
        except RuntimeError as exc:  # the dashboard's answer to an unknown submission id
            return "does not exist" not in str(exc)
        except Exception:
            return True

    def where(self, job: Job) -> str:
        return f"Ray job {job.runner_ref} on {self.name}"

    def log(self, job: Job) -> Optional[str]:
        try:
            return self.client.get_job_logs(job.runner_ref) if job.runner_ref else None
        except Exception:
            return None

    def is_on_this_machine(self) -> bool:
        return urlsplit(self.name).hostname in LOOPBACK_HOSTS


def submission_id_of(job: Job) -> str:
    """One per attempt of a job of this store, so that a second submission of it is refused: a cluster may
    serve several labs (or a store made anew), whose job ids repeat."""
    store = hashlib.sha256(get_settings().database_url.encode()).hexdigest()[:8]
    return f"ragtune-{store}-job-{job.id}-attempt-{job.attempts}"


def worker_environment() -> dict[str, str]:
    """What the worker needs of this process's configuration, with paths made absolute (the worker's
    working folder is Ray's copy of the project), and the API keys its systems name."""
    settings = get_settings()
    passed = {name: value for name, value in os.environ.items() if name.startswith(ENV_PREFIX)}
    keys = (settings.anthropic_key_env, settings.openai_key_env, *settings.key_envs, "CHROMA_URL")
    passed |= {name: os.environ[name] for name in keys if name in os.environ}
    return {**passed, f"{ENV_PREFIX}DATA_DIR": str(settings.data_dir), f"{ENV_PREFIX}MODELS_DIR":
            str(settings.models_dir), "DATABASE_URL": settings.database_url, f"{ENV_PREFIX}MODEL_SERVER": "off",
            "PYTHONUNBUFFERED": "1"}


def _message(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[-1][:300]
