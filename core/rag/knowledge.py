"""Knowledge bases as the lab knows them: a store row plus its live index generation.

This is what the CLI and the Knowledge page call. The row records the config
(so a re-index rebuilds the same way), the live generation, counts, what was
skipped and the last error; the index itself is built by `core.rag.indexer`.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Iterable, Optional

from sqlmodel import select

from core.access import Actor, Role, audit, require
from core.errors import AlreadyExistsError, InvalidInputError, LabError, NotFoundError, write_failure
from core.rag.chunking import Chunk, chunk_file
from core.paths import readable_path, readable_repository, upload_file_name, uploads_dir
from core.rag.config import KnowledgeBaseConfig, validate_name
from core.rag.embeddings import load_embedder
from core.rag.indexer import (IndexStats, Progress, build_generation, collection_name, generation_dir,
                              knowledge_dir)
from core.rag.lexical import Bm25Index
from core.rag.loaders import load_folder
from core.rag.reranking import check_reranker
from core.rag.retrieval import Retriever
from core.rag.vectorstore import open_collections
from core.store import Database
from core.store.tables import KnowledgeBase, utc_now

_retrievers: dict[tuple[str, str, int], Retriever] = {}


def list_knowledge_bases(db: Database) -> list[KnowledgeBase]:
    with db.session(immediate=False) as session:
        return list(session.exec(select(KnowledgeBase).order_by(KnowledgeBase.name)))


def ready_knowledge_bases(db: Database) -> list[str]:
    """Names of the knowledge bases with a live index, i.e. those RAG systems can answer from."""
    return [row.name for row in list_knowledge_bases(db) if row.generation > 0]


def _by_name(session, name: str) -> Optional[KnowledgeBase]:
    return session.exec(select(KnowledgeBase).where(KnowledgeBase.name == name)).first()


def get_knowledge_base(db: Database, name: str) -> KnowledgeBase:
    with db.session(immediate=False) as session:
        row = _by_name(session, name)
    if row is None:
        raise NotFoundError(f"No knowledge base named {name!r}; `python -m core kb list` shows them.")
    return row


def create_knowledge_base(db: Database, name: str, config: KnowledgeBaseConfig,
                          uploads: Iterable[tuple[str, bytes]] = (),
                          progress: Optional[Progress] = None, created_by: str = "unknown") -> KnowledgeBase:
    """Register and index a new knowledge base, here and now; if indexing fails, nothing of it remains."""
    return build_registered(db, register_knowledge_base(db, name, config, uploads, created_by).name, progress)


def register_knowledge_base(db: Database, name: str, config: KnowledgeBaseConfig,
                            uploads: Iterable[tuple[str, bytes]] = (), created_by: str = "unknown") -> KnowledgeBase:
    """The row of a knowledge base still to index (status "indexing", no generation live yet)."""
    name = validate_name(name)
    check_reranker(config.reranker_model)
    with db.session() as session:
        if _by_name(session, name):
            raise AlreadyExistsError(f"A knowledge base named {name!r} exists: re-index it, or pick another name.")
        if config.source_kind == "upload":
            folder = _save_uploads(name, uploads)
            config = KnowledgeBaseConfig.from_dict({**config.to_dict(), "source_path": str(folder)})
        else:  # absolute, so a re-index from another working directory reads the same files
            config = KnowledgeBaseConfig.from_dict(
                {**config.to_dict(), "source_path": str(_readable_source(config))})
        row = KnowledgeBase(name=name, config=config.to_dict(), created_by=created_by)
        session.add(row)
    return row


def build_registered(db: Database, name: str, progress: Optional[Progress] = None) -> KnowledgeBase:
    """Index a registered knowledge base's first generation; on failure (or cancel) nothing of it remains."""
    config = KnowledgeBaseConfig.from_dict(get_knowledge_base(db, name).config)
    try:
        stats = build_generation(name, config, open_collections(), 1, None, progress)
    except BaseException:
        with db.session() as session:
            session.delete(_by_name(session, name))
        _remove_files(name)
        raise
    return _record_success(db, name, stats)


def reindex_knowledge_base(db: Database, name: str, progress: Optional[Progress] = None) -> IndexStats:
    """Rebuild from the source, re-embedding only changed files. On failure the previous
    generation stays live and the error is kept on the row."""
    row = get_knowledge_base(db, name)
    config = KnowledgeBaseConfig.from_dict(row.config)
    collections = open_collections()
    try:
        stats = build_generation(name, config, collections, row.generation + 1, row.generation, progress)
    except (LabError, OSError) as exc:  # OSError: the new generation could not be written (a full disk)
        _update(db, name, error=f"Re-index failed, the previous index is still in use: {write_failure(exc) or exc}")
        raise
    _record_success(db, name, stats)
    collections.drop(collection_name(name, row.generation))
    shutil.rmtree(generation_dir(name, row.generation), ignore_errors=True)
    return stats


def remove_knowledge_base(db: Database, name: str, actor: Actor) -> None:
    require(actor, Role.ADMIN, "remove a knowledge base")
    row = _drop_index_and_files(db, name)
    with db.session() as session:  # the row and its audit entry go together
        audit.record(session, actor, "knowledge_bases.remove", f"knowledge base {name}",
                     before={"generation": row.generation, "chunks": row.chunk_count})
        session.delete(session.get(KnowledgeBase, row.id))


def discard_knowledge_base(db: Database, name: str) -> None:
    """Undo a registration whose job could not start: its index, files and row go, with no audit entry."""
    row = _drop_index_and_files(db, name)
    with db.session() as session:
        session.delete(session.get(KnowledgeBase, row.id))


def _drop_index_and_files(db: Database, name: str) -> KnowledgeBase:
    row = get_knowledge_base(db, name)
    open_collections().drop(collection_name(name, row.generation))
    _forget_retrievers(name)
    _remove_files(name)
    return row


def open_retriever(db: Database, name: str) -> Retriever:
    """The live generation's retriever, kept per process (loading BM25 and the model takes time)."""
    row = get_knowledge_base(db, name)
    if row.generation == 0:
        raise NotFoundError(f"Knowledge base {name!r} has no index yet: its first index job is still running, or "
                            "stopped before the end (resume it on the Knowledge page, or with "
                            "`python -m core jobs resume ID`).")
    config = KnowledgeBaseConfig.from_dict(row.config)
    collections = open_collections()
    key = (collections.location, name, row.generation)
    if key not in _retrievers:
        folder = generation_dir(name, row.generation) / "bm25"
        if not folder.is_dir():
            raise NotFoundError(f"The keyword index of {name!r} is missing ({folder}); re-index the knowledge base.")
        _forget_retrievers(name)
        _retrievers[key] = Retriever(
            collections.open(collection_name(name, row.generation), config.embedding_model, config.bfloat16),
            Bm25Index.load(folder), load_embedder(config.embedding_model, config.bfloat16), config.reranker_model,
            config.neighbours)
    return _retrievers[key]


def preview_chunks(path: str, config: KnowledgeBaseConfig) -> list[Chunk]:
    """How `config` would chunk one file, without indexing anything (the page's preview)."""
    file_path = readable_path(path)
    if not file_path.is_file():
        raise InvalidInputError(f"{file_path} is not a file: give the path of one file to preview.")
    try:
        [file] = load_folder(file_path, config.max_file_bytes).files
    except InvalidInputError as exc:
        raise InvalidInputError(f"{file_path.name} cannot be chunked: {exc}") from exc
    embed = load_embedder(config.embedding_model, config.bfloat16).embed if config.chunker == "semantic" else None
    return chunk_file(file, config, embed)


def _forget_retrievers(name: str) -> None:
    """Drop cached retrievers of older generations (each holds a BM25 index in memory)."""
    for key in [key for key in _retrievers if key[1] == name]:
        del _retrievers[key]


def _readable_source(config: KnowledgeBaseConfig) -> Path:
    """The typed source, if it may be read; for a git source, all of its repository must be readable."""
    source = readable_path(config.source_path)
    if config.source_kind == "git":
        readable_repository(source)
    return source


def _save_uploads(name: str, uploads: Iterable[tuple[str, bytes]]) -> Path:
    """The uploads in a new folder of their own, under names that cannot leave it or replace each other."""
    folder = uploads_dir() / name
    shutil.rmtree(folder, ignore_errors=True)  # a removed knowledge base's leftovers are not this one's
    folder.mkdir(parents=True)
    taken: set[str] = set()
    for sent_name, data in uploads:
        file_name = upload_file_name(sent_name, taken)
        taken.add(file_name)
        (folder / file_name).write_bytes(data)
    return folder


def _remove_files(name: str) -> None:
    shutil.rmtree(knowledge_dir(name), ignore_errors=True)
    shutil.rmtree(uploads_dir() / name, ignore_errors=True)


def _record_success(db: Database, name: str, stats: IndexStats) -> KnowledgeBase:
    return _update(db, name, status="ready", error=None, generation=stats.generation,
                   file_count=stats.file_count, chunk_count=stats.chunk_count,
                   skipped=[{"path": s.path, "reason": s.reason} for s in stats.skipped],
                   size_bytes=stats.size_bytes, index_seconds=stats.seconds, last_indexed_at=utc_now())


def _update(db: Database, name: str, **values) -> KnowledgeBase:
    with db.session() as session:
        row = _by_name(session, name)
        for key, value in values.items():
            setattr(row, key, value)
        session.add(row)
    return row
