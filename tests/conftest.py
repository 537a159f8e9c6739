"""Every test gets its own data dir, models dir and a real store: a SQLite file, or a PostgreSQL database."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.launcher import stop_launchers
from core.project import EVAL_SETS_DIR
from core.store import open_database

# the tiny model, dataset and training fixtures, model servers, the PostgreSQL server
pytest_plugins = ["tests.tiny_model", "tests.training_fixtures", "tests.serving.server_fixtures",
                  "tests.postgres_server", "tests.ray_cluster"]


LONG_RUNNING = ("browser", "slow", "reliability")  # markers of the tests that take tens of seconds


def pytest_collection_modifyitems(items):
    """Long tests first: pytest-xdist's workers then steal the short ones at the end and finish together,
    instead of one worker running a minute-long test alone while the other waits."""
    items.sort(key=lambda item: not any(item.get_closest_marker(marker) for marker in LONG_RUNNING))


def pytest_sessionfinish(session):
    """The warm job launchers the tests' jobs started, stopped with the run (by pytest-xdist's controller,
    once every worker is done), rather than left to exit when idle."""
    if not hasattr(session.config, "workerinput"):
        stop_launchers()


SHARED_MODEL_CACHE = Path(__file__).resolve().parents[1] / "models" / "cache"


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    path = tmp_path / "data"
    monkeypatch.setenv("RAGTUNE_DATA_DIR", str(path))
    # Adapters and merged models go to the test's folder; SmolLM2's safetensors copy
    # (slow to make) is shared with the checkout's models/cache.
    models = tmp_path / "models"
    models.mkdir()
    SHARED_MODEL_CACHE.mkdir(parents=True, exist_ok=True)
    (models / "cache").symlink_to(SHARED_MODEL_CACHE, target_is_directory=True)
    monkeypatch.setenv("RAGTUNE_MODELS_DIR", str(models))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    # In-process models unless a test starts a server (set, not deleted: app.py's default must not leak).
    monkeypatch.setenv("RAGTUNE_MODEL_SERVER", "auto")
    # Workers beat every 2 s, so a dead one is found 6 s after its last beat rather than 15 s (the default).
    monkeypatch.setenv("RAGTUNE_HEARTBEAT_S", "2")
    for name in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    return path


@pytest.fixture(autouse=True)
def allowed_roots(tmp_path_factory, monkeypatch):
    """What the operator offers: the session's temp folders (each test's files, the tiny model) and the
    shipped eval sets (the tests' fixtures); tests of the rule itself narrow it."""
    monkeypatch.setenv("RAGTUNE_ALLOWED_ROOTS", os.pathsep.join([str(tmp_path_factory.getbasetemp()),
                                                                 str(EVAL_SETS_DIR)]))


@pytest.fixture
def db(database_url):
    return open_database(database_url)
