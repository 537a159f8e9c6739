import shutil

import pytest
from tests.rag.rag_fixtures import git

from core.access import LOCAL_ADMIN
from core.errors import AlreadyExistsError, InvalidInputError, NotFoundError, StoreError
from core.paths import readable_path, uploads_dir
from core.rag import indexer
from core.rag.config import KnowledgeBaseConfig
from core.rag.knowledge import (create_knowledge_base, get_knowledge_base, list_knowledge_bases, open_retriever,
                                register_knowledge_base, reindex_knowledge_base, remove_knowledge_base)
from core.rag.lexical import Bm25Index
from core.rag.vectorstore import open_collections


def config_for(path, **settings) -> KnowledgeBaseConfig:
    return KnowledgeBaseConfig(source_path=str(path), chunk_size=300, chunk_overlap=30, **settings)


def top_source(db, name, query, mode="hybrid"):
    return open_retriever(db, name).search(query, mode=mode, k=3)[0].source


def collection_names() -> set[str]:
    return {c.name for c in open_collections().client.list_collections()}


def test_create_indexes_a_folder_and_every_mode_finds_the_right_file(db, docs):
    stages = []
    row = create_knowledge_base(db, "team", config_for(docs), progress=lambda stage, f: stages.append((stage, f)))
    assert (row.status, row.generation, row.file_count) == ("ready", 1, 4)
    assert row.chunk_count >= 5 and row.size_bytes > 0 and row.last_indexed_at is not None
    assert row.skipped == [{"path": "logo.png", "reason": "binary file (contains NUL bytes)"}]
    assert stages[0] == ("Reading files", 0.0) and stages[-1] == ("Done", 1.0)
    assert any(stage.startswith("Embedding") for stage, _ in stages)
    for mode in ("dense", "bm25", "hybrid"):
        assert top_source(db, "team", "when do refunds reach the payment card", mode) == "README.md"
    assert top_source(db, "team", "TokenStore revoke") == "src/auth.py"
    assert top_source(db, "team", "how often must passwords be rotated") == "policy.pdf"
    hit = open_retriever(db, "team").search("blue-green deployment on Kubernetes", k=1)[0]
    assert hit.location.startswith("guide.html:L") and "blue-green" in hit.text
    assert [kb.name for kb in list_knowledge_bases(db)] == ["team"]


def test_reindex_embeds_only_changed_files_and_drops_deleted_ones(db, docs):
    create_knowledge_base(db, "team", config_for(docs))
    (docs / "README.md").write_text("# Billing\n\nRefunds now take ten business days to arrive.\n")
    (docs / "guide.html").unlink()
    (docs / "faq.txt").write_text("The office coffee machine is cleaned every Friday afternoon.")
    stats = reindex_knowledge_base(db, "team")
    assert (stats.generation, stats.embedded_files, stats.reused_files, stats.removed_files) == (2, 2, 2, 1)
    sources = {h.source for h in open_retriever(db, "team").search("deployment kubernetes blue-green", k=10)}
    assert "guide.html" not in sources
    assert top_source(db, "team", "when is the coffee machine cleaned") == "faq.txt"
    assert "ten business days" in open_retriever(db, "team").search("refund delay", k=1)[0].text
    assert collection_names() == {"kb-team-g2"}
    assert not indexer.generation_dir("team", 1).exists()
    again = reindex_knowledge_base(db, "team")
    assert again.embedded_files == 0 and again.full_reembed_reason == ""


def test_a_reindex_that_can_reuse_nothing_says_why(db, docs):
    create_knowledge_base(db, "team", config_for(docs))
    (indexer.generation_dir("team", 1) / indexer.MANIFEST).write_text("{not json")
    stats = reindex_knowledge_base(db, "team")
    assert stats.reused_files == 0 and "manifest could not be read" in stats.full_reembed_reason


def test_a_bug_inside_chroma_calls_is_not_reported_as_a_chroma_failure():
    from core.rag.vectorstore import chroma_errors

    with pytest.raises(TypeError):
        with chroma_errors():
            raise TypeError("a bug of ours")
    with pytest.raises(StoreError, match="Chroma failed"):
        with chroma_errors():
            raise ConnectionError("refused")


def test_a_failed_reindex_leaves_the_previous_index_usable(db, docs, monkeypatch):
    create_knowledge_base(db, "team", config_for(docs))
    shutil.rmtree(docs)
    docs.mkdir()
    with pytest.raises(InvalidInputError, match="No readable text files"):
        reindex_knowledge_base(db, "team")
    row = get_knowledge_base(db, "team")
    assert (row.status, row.generation) == ("ready", 1)
    assert row.error.startswith("Re-index failed, the previous index is still in use: No readable text files")
    assert top_source(db, "team", "refunds to the payment card") == "README.md"

    (docs / "new.md").write_text("Fresh content about invoices.")

    def disk_full(*_args):
        raise StoreError("disk full")

    monkeypatch.setattr(Bm25Index, "build", disk_full)  # fails after the new collection is written
    with pytest.raises(StoreError, match="disk full"):
        reindex_knowledge_base(db, "team")
    assert collection_names() == {"kb-team-g1"}  # the half-built generation is gone
    assert not indexer.generation_dir("team", 2).exists()
    assert top_source(db, "team", "refunds to the payment card") == "README.md"


def test_creating_fails_cleanly_on_bad_input(db, docs, tmp_path, monkeypatch):
    create_knowledge_base(db, "team", config_for(docs))
    with pytest.raises(AlreadyExistsError, match="exists"):
        create_knowledge_base(db, "team", config_for(docs))
    with pytest.raises(InvalidInputError, match="not a valid knowledge base name"):
        create_knowledge_base(db, "../escape", config_for(docs))
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidInputError, match="No readable text files"):
        create_knowledge_base(db, "empty", config_for(tmp_path / "empty"))
    with pytest.raises(InvalidInputError, match="is not a git repository"):
        create_knowledge_base(db, "repo", config_for(tmp_path / "empty", source_kind="git"))
    monkeypatch.setenv("RAGTUNE_ALLOWED_ROOTS", str(tmp_path / "empty"))
    with pytest.raises(InvalidInputError, match="outside the folders the lab may read"):
        create_knowledge_base(db, "outside", config_for(docs))
    assert [kb.name for kb in list_knowledge_bases(db)] == ["team"]
    assert collection_names() == {"kb-team-g1"}


def test_git_and_upload_sources(db, tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "howto.md").write_text("Release steps: tag the commit, then publish the wheel to the registry.")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "docs")
    (repo / "howto.md").write_text("Uncommitted edit about something else entirely.")
    create_knowledge_base(db, "repo", config_for(repo, source_kind="git", git_rev="HEAD"))
    assert "publish the wheel" in open_retriever(db, "repo").search("how to release", k=1)[0].text

    uploads = [("handbook.md", b"Vacation requests go through the HR portal two weeks ahead.")]
    row = create_knowledge_base(db, "uploads", KnowledgeBaseConfig(source_kind="upload"), uploads=uploads)
    assert row.config["source_path"] == str(uploads_dir() / "uploads")
    assert top_source(db, "uploads", "how do I request vacation") == "handbook.md"


def test_uploads_are_kept_in_the_uploads_folder_under_names_that_cannot_escape_or_collide(db, data_dir, monkeypatch):
    monkeypatch.delenv("RAGTUNE_ALLOWED_ROOTS")  # the default: uploads are all the page may read
    sent = [("../../escape.md", b"one"), ("/etc/passwd", b"two"), ("..\\win.md", b"three"), ("notes.md", b"four"),
            ("sub/notes.md", b"five"), (".env", b"six"), ("nul\0byte.md", b"seven"), ("x" * 400 + ".md", b"eight")]
    row = register_knowledge_base(db, "handbook", KnowledgeBaseConfig(source_kind="upload"), sent)
    folder = uploads_dir() / "handbook"
    assert row.config["source_path"] == str(folder)
    stored = {path.name: path.read_bytes() for path in folder.iterdir()}
    assert {name: data for name, data in stored.items() if len(name) < 100} == {
        "escape.md": b"one", "passwd": b"two", "win.md": b"three", "notes.md": b"four", "notes-2.md": b"five",
        "env": b"six", "nulbyte.md": b"seven"}
    assert len(stored) == len(sent)  # nothing replaced
    assert not (data_dir / "escape.md").exists() and not (uploads_dir() / "win.md").exists()  # nothing escaped
    assert readable_path(folder / "notes-2.md") == folder / "notes-2.md"  # the page may preview an upload
    remove_knowledge_base(db, "handbook", LOCAL_ADMIN)
    assert not folder.exists()


def test_remove_deletes_row_collection_and_files(db, docs):
    create_knowledge_base(db, "team", config_for(docs))
    remove_knowledge_base(db, "team", LOCAL_ADMIN)
    assert list_knowledge_bases(db) == [] and collection_names() == set()
    assert not indexer.knowledge_dir("team").exists()
    with pytest.raises(NotFoundError, match="No knowledge base named 'team'"):
        open_retriever(db, "team")


def test_leftovers_of_an_interrupted_reindex_do_not_block_the_next(db, docs):
    create_knowledge_base(db, "team", config_for(docs))
    open_collections().create(indexer.collection_name("team", 2), "all-MiniLM-L6-v2", True)
    indexer.generation_dir("team", 2).mkdir(parents=True)
    assert reindex_knowledge_base(db, "team").generation == 2
    assert top_source(db, "team", "refunds to the payment card") == "README.md"
