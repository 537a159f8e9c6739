"""Where chunk vectors live: a small `VectorStore` interface and its Chroma implementation.

By default Chroma runs embedded (`PersistentClient` under the data dir); when
`CHROMA_URL` is set (e.g. `http://chroma.internal:8000`) the lab talks to a
shared Chroma server instead (`HttpClient`), so a team shares its indexes.
Collections use cosine HNSW and always get the lab's explicit embedding
function. Chroma's own errors become `StoreError`s that say what to check.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, Sequence
from urllib.parse import urlparse

import numpy as np

from core.errors import StoreError
from core.settings import get_settings

CHROMA_URL_ENV = "CHROMA_URL"
CHROMA_TIMEOUT_S = 60.0  # a Chroma server that answers nothing for this long has failed the request
MAX_BATCH = 5000  # Chroma refuses more than 5,461 records per call


@dataclass(frozen=True)
class StoredChunk:
    id: str
    text: str
    metadata: dict[str, Any]
    embedding: Any = None
    distance: float = 0.0


class VectorStore(ABC):
    """One knowledge base generation's vectors."""

    @abstractmethod
    def add(self, ids: Sequence[str], texts: Sequence[str], embeddings: np.ndarray,
            metadatas: Sequence[dict[str, Any]]) -> None: ...

    @abstractmethod
    def query(self, embedding: np.ndarray, k: int) -> list[StoredChunk]: ...

    @abstractmethod
    def all_chunks(self, with_embeddings: bool = False) -> Iterator[StoredChunk]: ...


class ChromaStore(VectorStore):
    def __init__(self, collection, location: str = ""):
        self.collection = collection
        self.location = location  # named in errors: which server (or folder) failed

    def add(self, ids, texts, embeddings, metadatas) -> None:
        for start in range(0, len(ids), MAX_BATCH):
            end = start + MAX_BATCH
            with chroma_errors(self.location):
                self.collection.add(ids=list(ids[start:end]), documents=list(texts[start:end]),
                                    embeddings=np.asarray(embeddings[start:end]),
                                    metadatas=list(metadatas[start:end]))

    def query(self, embedding: np.ndarray, k: int) -> list[StoredChunk]:
        with chroma_errors(self.location):
            found = self.collection.query(query_embeddings=np.asarray([embedding]), n_results=k,
                                          include=["documents", "metadatas", "distances"])
        return [StoredChunk(id_, text, meta, distance=dist) for id_, text, meta, dist in
                zip(found["ids"][0], found["documents"][0], found["metadatas"][0], found["distances"][0])]

    def all_chunks(self, with_embeddings: bool = False) -> Iterator[StoredChunk]:
        include = ["documents", "metadatas"] + (["embeddings"] if with_embeddings else [])
        offset = 0
        while True:
            with chroma_errors(self.location):
                page = self.collection.get(include=include, limit=MAX_BATCH, offset=offset)
            if not page["ids"]:
                return
            embeddings = page["embeddings"] if with_embeddings else [None] * len(page["ids"])
            for id_, text, meta, vector in zip(page["ids"], page["documents"], page["metadatas"], embeddings):
                yield StoredChunk(id_, text, meta, vector)
            offset += len(page["ids"])


class ChromaCollections:
    """Creates, opens and drops the collections of one Chroma deployment."""

    def __init__(self, client, location: str):
        self.client = client
        self.location = location

    def create(self, name: str, model: str, bfloat16: bool) -> ChromaStore:
        with chroma_errors(self.location):
            return ChromaStore(self.client.create_collection(
                name, embedding_function=_embedding_function(model, bfloat16),
                configuration={"hnsw": {"space": "cosine"}}), self.location)

    def open(self, name: str, model: str, bfloat16: bool) -> ChromaStore:
        with chroma_errors(self.location):
            return ChromaStore(self.client.get_collection(
                name, embedding_function=_embedding_function(model, bfloat16)), self.location)

    def drop(self, name: str) -> None:
        """Remove a collection; one that is already gone is fine."""
        with chroma_errors(self.location):
            if name in {c.name for c in self.client.list_collections()}:
                self.client.delete_collection(name)


def _embedding_function(model: str, bfloat16: bool) -> Any:
    from core.rag.chroma_embedding import ChromaEmbeddingFunction

    return ChromaEmbeddingFunction(model, bfloat16)


def open_collections() -> ChromaCollections:
    """The Chroma server named by $CHROMA_URL, else the embedded one under the data dir."""
    import chromadb  # here: reading the store or printing --help must not load Chroma
    from chromadb.config import Settings as ChromaSettings

    url = os.environ.get(CHROMA_URL_ENV, "").strip()
    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if url:
        parsed = urlparse(url if "://" in url else f"http://{url}")
        with chroma_errors(url):
            client = chromadb.HttpClient(host=parsed.hostname or "localhost", port=parsed.port or 8000,
                                         ssl=parsed.scheme == "https", settings=chroma_settings)
        _limit_waiting(client)
        return ChromaCollections(client, url)
    path = get_settings().data_dir / "chroma"
    path.mkdir(parents=True, exist_ok=True)
    with chroma_errors(str(path)):
        return ChromaCollections(chromadb.PersistentClient(path=str(path), settings=chroma_settings), str(path))


def _limit_waiting(client) -> None:
    """chromadb's HTTP client waits for an answer for ever (its httpx session has no timeout) and takes
    no setting for it, so a hung server would hold a page's search; its session gets one here
    (chromadb is pinned, and tests/reliability/test_remote_faults.py checks that this still works)."""
    import httpx

    client._server._session.timeout = httpx.Timeout(CHROMA_TIMEOUT_S)


@contextmanager
def chroma_errors(location: str = "") -> Iterator[None]:
    """Chroma's and the connection's failures as `StoreError`s naming what to check; anything else (a
    bug of ours: TypeError, KeyError...) goes up as it is."""
    import sqlite3

    import httpx
    from chromadb.errors import ChromaError, NotFoundError

    try:
        yield
    except StoreError:
        raise
    except (ChromaError, OSError, httpx.HTTPError, sqlite3.Error, ValueError) as exc:
        # chromadb reports bad arguments and unreachable servers as ValueError too
        if isinstance(exc, NotFoundError):
            raise StoreError(f"The vector index is missing from Chroma ({exc}); re-index the knowledge base.") from exc
        where = f" at {location}" if location else ""
        hint = (f" Check that the server is running, or unset {CHROMA_URL_ENV} to use the local index."
                if os.environ.get(CHROMA_URL_ENV) else "")
        if isinstance(exc, httpx.TimeoutException):
            raise StoreError(f"Chroma{where} did not answer in {CHROMA_TIMEOUT_S:.0f} s.{hint}") from exc
        raise StoreError(f"Chroma{where} failed: {exc}.{hint}") from exc
