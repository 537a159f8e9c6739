"""Every test gets its own data dir and a real SQLite file in it."""

from __future__ import annotations

import pytest

from core.settings import get_settings
from core.store import open_database

pytest_plugins = ["tests.tiny_model"]  # the tiny chat model fixtures, for every test that asks a model


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    path = tmp_path / "data"
    monkeypatch.setenv("RAGTUNE_DATA_DIR", str(path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    for name in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    return path


@pytest.fixture
def db(data_dir):
    return open_database(get_settings().database_url)
