"""Build one generation of a knowledge base's index, reusing what has not changed.

Each (re-)index writes a new generation: a Chroma collection `kb-NAME-gN` and a
folder `DATA/knowledge/NAME/gN/` (file manifest + BM25). Files whose content
hash is unchanged keep their chunks and vectors (copied from the previous
generation, not re-embedded); changed and new files are chunked and embedded;
deleted files are simply not carried over. Until the caller switches the
store row to the new generation, the previous one stays live and untouched,
so a failed re-index leaves the knowledge base usable.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from core.errors import NotFoundError, StoreError
from core.rag.chunking import chunk_file
from core.rag.config import KnowledgeBaseConfig
from core.rag.embeddings import load_embedder
from core.rag.lexical import Bm25Index
from core.rag.loaders import LoadResult, Skipped, SourceFile, load_folder, load_git
from core.rag.vectorstore import ChromaCollections, VectorStore
from core.settings import get_settings

MANIFEST = "manifest.json"
# progress(stage, fraction of the whole job done)
Progress = Callable[[str, float], None]


@dataclass
class IndexStats:
    generation: int
    file_count: int = 0
    chunk_count: int = 0
    embedded_files: int = 0  # chunked and embedded in this run
    reused_files: int = 0  # unchanged: chunks and vectors carried over
    removed_files: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    size_bytes: int = 0
    seconds: float = 0.0
    full_reembed_reason: str = ""  # why a re-index could reuse nothing of the previous generation


def knowledge_dir(name: str) -> Path:
    return get_settings().data_dir / "knowledge" / name


def generation_dir(name: str, generation: int) -> Path:
    return knowledge_dir(name) / f"g{generation}"


def collection_name(name: str, generation: int) -> str:
    return f"kb-{name}-g{generation}"


def load_source(config: KnowledgeBaseConfig) -> LoadResult:
    """The files of a registered source. Its path was checked when it was typed (`register_knowledge_base`);
    a re-index reads it again as stored, since no one types it then, and `load_folder` still checks each file."""
    root = Path(config.source_path)
    if not root.exists():
        raise NotFoundError(f"The source {root} does not exist any more: restore it, or create the knowledge "
                            "base again.")
    if config.source_kind == "git":
        return load_git(root, config.git_rev, config.max_file_bytes)
    return load_folder(root, config.max_file_bytes)


def build_generation(name: str, config: KnowledgeBaseConfig, collections: ChromaCollections,
                     generation: int, previous: Optional[int], progress: Optional[Progress] = None) -> IndexStats:
    """Index the source as generation `generation`; on failure nothing of it is left behind."""
    report = progress or (lambda _stage, _fraction: None)
    started = time.perf_counter()
    report("Reading files", 0.0)
    loaded = load_source(config)
    old_store, reason = _previous_store(collections, name, config, previous)
    reusable = {}
    if old_store:
        reusable, reason = _reusable_manifest(name, config, previous)
    current = {f.path: f.content_hash for f in loaded.files}
    changed = [f for f in loaded.files if reusable.get(f.path) != f.content_hash]
    unchanged = {path for path, digest in current.items() if reusable.get(path) == digest}
    stats = IndexStats(generation, file_count=len(loaded.files), embedded_files=len(changed),
                       reused_files=len(unchanged), removed_files=len(set(reusable) - set(current)),
                       skipped=loaded.skipped, full_reembed_reason=reason)
    _discard(name, generation, collections)  # leftovers of an interrupted run
    try:
        store = _write_vectors(name, config, collections, generation, changed, report)
        if unchanged:
            _copy_unchanged(old_store, store, unchanged)
        report("Building the keyword index", 0.95)
        target = generation_dir(name, generation)
        stats.chunk_count = _save_keyword_index(store, target / "bm25")
        (target / MANIFEST).write_text(json.dumps({"files": current, "signature": config.index_signature()}))
        dimension = load_embedder(config.embedding_model, config.bfloat16).dimension
        stats.size_bytes = _dir_size(target) + stats.chunk_count * dimension * 4  # + the raw vectors
    except BaseException:
        _discard(name, generation, collections)
        raise
    stats.seconds = time.perf_counter() - started
    report("Done", 1.0)
    return stats


def _write_vectors(name: str, config: KnowledgeBaseConfig, collections: ChromaCollections, generation: int,
                   changed: list[SourceFile], report: Progress) -> VectorStore:
    """A new collection holding the chunks of the changed files."""
    embedder = load_embedder(config.embedding_model, config.bfloat16)
    report(f"Chunking {len(changed)} changed file(s)", 0.05)
    chunks = [c for f in changed for c in chunk_file(f, config, embedder.embed)]
    vectors = embedder.embed([c.search_text for c in chunks],
                             lambda done, total: report(f"Embedding {done}/{total} chunks", 0.1 + 0.75 * done / total))
    report("Writing the vector index", 0.85)
    store = collections.create(collection_name(name, generation), config.embedding_model, config.bfloat16)
    if chunks:
        store.add([c.id for c in chunks], [c.text for c in chunks], vectors, [c.metadata() for c in chunks])
    return store


def _discard(name: str, generation: int, collections: ChromaCollections) -> None:
    """Remove a generation that is not live; a Chroma that cannot be reached keeps it (harmless)."""
    shutil.rmtree(generation_dir(name, generation), ignore_errors=True)
    try:
        collections.drop(collection_name(name, generation))
    except StoreError:
        pass


def _reusable_manifest(name: str, config: KnowledgeBaseConfig, previous: int) -> tuple[dict[str, str], str]:
    """(file -> hash of the previous generation, "") or ({}, why its chunks cannot be reused)."""
    path = generation_dir(name, previous) / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        return {}, f"the previous generation's manifest could not be read ({exc})"
    if manifest.get("signature") != config.index_signature():
        return {}, "the chunking or embedding settings changed since the previous generation"
    return manifest["files"], ""


def _previous_store(collections: ChromaCollections, name: str, config: KnowledgeBaseConfig,
                    previous: Optional[int]) -> tuple[Optional[VectorStore], str]:
    """The live generation's vectors, or (None, why not): then everything is embedded afresh."""
    if previous is None:
        return None, ""
    try:
        return collections.open(collection_name(name, previous), config.embedding_model, config.bfloat16), ""
    except StoreError as exc:
        return None, f"the previous generation's vectors could not be opened ({exc})"


def _copy_unchanged(old: VectorStore, store: VectorStore, unchanged: set[str]) -> None:
    kept = [c for c in old.all_chunks(with_embeddings=True) if c.metadata.get("source") in unchanged]
    if kept:
        store.add([c.id for c in kept], [c.text for c in kept], np.asarray([c.embedding for c in kept]),
                  [c.metadata for c in kept])


def _save_keyword_index(store: VectorStore, folder: Path) -> int:
    everything = list(store.all_chunks())
    if not everything:
        raise StoreError("Indexing produced no chunks; the files hold no text to search.")
    Bm25Index.build([c.id for c in everything], [c.text for c in everything],
                    [c.metadata for c in everything]).save(folder)
    return len(everything)


def _dir_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
