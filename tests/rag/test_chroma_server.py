"""Against a real Chroma server, started on 127.0.0.1 by this test and stopped by it."""

import pytest

from core.access import LOCAL_ADMIN
from core.rag.config import KnowledgeBaseConfig
from core.errors import StoreError
from core.rag.knowledge import (create_knowledge_base, list_knowledge_bases, open_retriever, reindex_knowledge_base,
                                remove_knowledge_base)
from core.rag.vectorstore import open_collections
from tests.rag.rag_fixtures import ChromaServer, free_port


@pytest.fixture
def chroma_server(tmp_path, monkeypatch):
    server = ChromaServer(tmp_path / "server-data")
    monkeypatch.setenv("CHROMA_URL", server.start())
    yield server.url
    server.stop()


def test_knowledge_base_lives_on_the_chroma_server(db, docs, data_dir, chroma_server):
    create_knowledge_base(db, "team", KnowledgeBaseConfig(source_path=str(docs), chunk_size=300, chunk_overlap=30))
    collections = open_collections()
    assert collections.location == chroma_server
    assert [c.name for c in collections.client.list_collections()] == ["kb-team-g1"]
    assert not (data_dir / "chroma").exists()  # nothing went to the local Chroma
    assert open_retriever(db, "team").search("refunds to the payment card", k=1)[0].source == "README.md"
    (docs / "README.md").write_text("Refunds take ten business days now.")
    assert reindex_knowledge_base(db, "team").embedded_files == 1
    assert [c.name for c in collections.client.list_collections()] == ["kb-team-g2"]
    remove_knowledge_base(db, "team", LOCAL_ADMIN)
    assert collections.client.list_collections() == []


def test_an_unreachable_server_is_reported_with_the_fix(db, docs, monkeypatch):
    monkeypatch.setenv("CHROMA_URL", f"http://127.0.0.1:{free_port()}")
    with pytest.raises(StoreError, match="Check that the server is running, or unset CHROMA_URL"):
        create_knowledge_base(db, "team", KnowledgeBaseConfig(source_path=str(docs)))
    assert list_knowledge_bases(db) == []
