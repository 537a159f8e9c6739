"""Shared fixtures: the real embedding model (loaded once per session) and sources in temp folders."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.rag.rag_fixtures import AUTH_PY, GUIDE_HTML, README_MD, make_pdf

from core.rag.embeddings import load_embedder


@pytest.fixture(autouse=True)
def no_chroma_server(monkeypatch):
    """No test talks to a Chroma server by accident."""
    monkeypatch.delenv("CHROMA_URL", raising=False)


@pytest.fixture(scope="session")
def embedder():
    return load_embedder()


@pytest.fixture
def docs(tmp_path) -> Path:
    folder = tmp_path / "docs"
    (folder / "src").mkdir(parents=True)
    (folder / "src" / "auth.py").write_text(AUTH_PY)
    (folder / "README.md").write_text(README_MD)
    (folder / "guide.html").write_text(GUIDE_HTML)
    (folder / "policy.pdf").write_bytes(make_pdf("Passwords must be rotated every ninety days."))
    (folder / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(64))
    (folder / ".git").mkdir()
    (folder / ".git" / "config").write_text("[core]")
    return folder
