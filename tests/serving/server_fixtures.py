"""Model servers started for real, as `python -m core serve` processes on free ports (registered as a
plugin by the root conftest: the serving and reliability tests use them)."""

from __future__ import annotations

import pytest

from core.serving.lifecycle import start_server, stop_server


@pytest.fixture
def serve():
    """`serve(*options)` starts the server of this test's data dir; it stops after the test."""
    yield lambda *options: start_server(options)
    stop_server()


@pytest.fixture
def tiny_spec(tiny_model_dir) -> str:
    return f"local:{tiny_model_dir}?dtype=float32"
