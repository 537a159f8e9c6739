"""Fixtures of the dataset tests: the tiny model's tokenizer, a real knowledge base."""

from __future__ import annotations

import pytest
from tests.rag.rag_fixtures import AUTH_PY, README_MD

from core.rag.config import KnowledgeBaseConfig
from core.rag.knowledge import create_knowledge_base


@pytest.fixture(autouse=True)
def no_chroma_server(monkeypatch):
    """No test talks to a Chroma server by accident."""
    monkeypatch.delenv("CHROMA_URL", raising=False)


@pytest.fixture
def base(tiny_model_dir) -> str:
    """A base model folder with SmolLM2's real tokenizer and chat template, to measure lengths."""
    return str(tiny_model_dir)


@pytest.fixture
def team_kb(db, tmp_path) -> str:
    folder = tmp_path / "docs"
    (folder / "src").mkdir(parents=True)
    (folder / "src" / "auth.py").write_text(AUTH_PY)
    (folder / "README.md").write_text(README_MD)
    create_knowledge_base(db, "team", KnowledgeBaseConfig(source_path=str(folder), chunk_size=300, chunk_overlap=30))
    return "team"
