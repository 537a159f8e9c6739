"""Search a knowledge base by meaning (dense), by keywords (BM25) or both (hybrid).

Hybrid, the default, fuses the two rankings by reciprocal rank (RRF): it needs
no score calibration between cosine similarities and BM25 scores, and a chunk
that both find rises to the top. When a reranker is configured (`core.rag.reranking`),
it re-orders the fused candidates by reading query and chunk together.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Optional, Sequence

from core.errors import InvalidInputError
from core.llm.registry import SEARCH_MODES
from core.llm.base import Passage
from core.rag.embeddings import Embedder
from core.rag.lexical import Bm25Index
from core.rag.reranking import load_reranker, rerank
from core.rag.vectorstore import VectorStore

RRF_K = 60  # the constant of Cormack et al.; damps the influence of the very first ranks
CANDIDATES_PER_HIT = 4  # each ranking contributes k * 4 candidates to the fusion
MIN_CANDIDATES = 20
PER_FILE_CAP = 3  # at most this many of the top k from one file while other files have candidates


@dataclass(frozen=True)
class Hit(Passage):
    """A retrieved chunk with how it ranked."""

    id: str = ""
    score: float = 0.0  # mode-specific: cosine similarity, BM25 score, RRF score or reranker score
    similarity: Optional[float] = None  # cosine similarity to the query, when the dense search saw it


class Retriever:
    def __init__(self, store: VectorStore, keywords: Bm25Index, embedder: Embedder, reranker_model: str = "",
                 neighbours: int = 0):
        self.store = store
        self.keywords = keywords
        self.embedder = embedder
        self.reranker_model = reranker_model
        self.neighbours = neighbours

    def search(self, query: str, mode: str = "hybrid", k: int = 5,
               per_file_cap: Optional[int] = PER_FILE_CAP) -> list[Hit]:
        if not query.strip():
            raise InvalidInputError("The search query is empty: type a question or some keywords.")
        if mode not in SEARCH_MODES:
            raise InvalidInputError(f"Unknown search mode {mode!r}: use one of {', '.join(SEARCH_MODES)}.")
        if k < 1:
            raise InvalidInputError(f"k must be at least 1, not {k}.")
        widened = mode == "hybrid" or self.reranker_model or (per_file_cap is not None and per_file_cap < k)
        pool = max(k * CANDIDATES_PER_HIT, MIN_CANDIDATES) if widened else k
        if mode == "dense":
            hits = self.dense(query, pool)
        elif mode == "bm25":
            hits = self.bm25(query, pool)
        else:
            hits = reciprocal_rank_fusion([self.dense(query, pool), self.bm25(query, pool)])
        if self.reranker_model:
            hits = rerank(load_reranker(self.reranker_model), query, hits)
        hits = diversify(hits, k, per_file_cap) if per_file_cap else hits[:k]
        return widen(hits, self.keywords.chunks_by_file(), self.neighbours) if self.neighbours else hits

    def dense(self, query: str, k: int) -> list[Hit]:
        vector = self.embedder.embed([query])[0]
        return [_hit(c.id, c.text, c.metadata, 1.0 - c.distance, similarity=1.0 - c.distance)
                for c in self.store.query(vector, k)]

    def bm25(self, query: str, k: int) -> list[Hit]:
        return [_hit(h.id, h.text, h.metadata, h.score) for h in self.keywords.search(query, k)]


def diversify(hits: list[Hit], k: int, per_file_cap: int) -> list[Hit]:
    """The top k, taking at most `per_file_cap` chunks of one file before the others' candidates, so a
    question whose answer spans two files can see both; capped chunks fill what is left, in order."""
    taken, held_back, per_file = [], [], {}
    for hit in hits:
        if per_file.get(hit.source, 0) < per_file_cap:
            per_file[hit.source] = per_file.get(hit.source, 0) + 1
            taken.append(hit)
        else:
            held_back.append(hit)
        if len(taken) == k:
            return taken
    return taken + held_back[:k - len(taken)]


def widen(hits: list[Hit], chunks_by_file: dict[str, list[Passage]], neighbours: int) -> list[Hit]:
    """Each hit grown by up to `neighbours` chunks before and after it in its file (small-to-big retrieval:
    the matched piece of a long function arrives with the lines around it). Windows that overlap are
    merged into the best-ranked of them, so no line is sent twice."""
    windows: list[list] = []  # [hit, first chunk, last chunk], in rank order, disjoint within a file
    for hit in hits:
        chunks = chunks_by_file.get(hit.source, [])
        at = next((i for i, c in enumerate(chunks) if c.start_line == hit.start_line), None)
        if at is None:
            windows.append([hit, -1, -1])
            continue
        first, last = max(at - neighbours, 0), min(at + neighbours, len(chunks) - 1)
        touching = [w for w in windows if w[0].source == hit.source and w[1] >= 0 and w[1] <= last and first <= w[2]]
        if not touching:
            windows.append([hit, first, last])
            continue
        keeper = touching[0]
        keeper[1], keeper[2] = min([first] + [w[1] for w in touching]), max([last] + [w[2] for w in touching])
        windows = [w for w in windows if not any(w is t for t in touching[1:])]
    return [hit if first < 0 else _spanning(hit, chunks_by_file[hit.source][first:last + 1])
            for hit, first, last in windows]


def _spanning(hit: Hit, chunks: list[Passage]) -> Hit:
    """`hit` covering `chunks`: their lines joined once each, though neighbouring chunks may overlap."""
    lines, end = [], chunks[0].start_line - 1
    for chunk in chunks:
        lines += chunk.text.splitlines()[max(end - chunk.start_line + 1, 0):]
        end = max(end, chunk.end_line)
    return replace(hit, start_line=chunks[0].start_line, end_line=end, text="\n".join(lines))


def reciprocal_rank_fusion(rankings: list[list[Hit]], k: int = RRF_K,
                           weights: Optional[Sequence[float]] = None) -> list[Hit]:
    """One ranking from several: score(chunk) = sum over rankings of weight / (k + rank), each weight 1
    unless given (weighted fusion, measured in `bench/rag_retrieval.py`)."""
    scores: dict[str, float] = {}
    first_seen: dict[str, Hit] = {}
    for ranking, weight in zip(rankings, weights or [1.0] * len(rankings)):
        for rank, hit in enumerate(ranking, start=1):
            scores[hit.id] = scores.get(hit.id, 0.0) + weight / (k + rank)
            if hit.id not in first_seen or first_seen[hit.id].similarity is None:
                first_seen[hit.id] = hit
    ordered = sorted(scores, key=lambda id_: scores[id_], reverse=True)
    return [replace(first_seen[id_], score=scores[id_]) for id_ in ordered]


def _hit(id_: str, text: str, meta: dict, score: float, similarity: Optional[float] = None) -> Hit:
    return Hit(str(meta.get("source", "")), int(meta.get("start_line", 0)), int(meta.get("end_line", 0)), text,
               id=id_, score=float(score), similarity=similarity)


@dataclass(frozen=True)
class ModeResult:
    mode: str
    hits: list[Hit]
    latency_ms: float


def compare_modes(retriever: Retriever, query: str, k: int = 5) -> list[ModeResult]:
    """The same query in every mode, timed, for side-by-side inspection."""
    results = []
    for mode in SEARCH_MODES:
        started = time.perf_counter()
        hits = retriever.search(query, mode=mode, k=k)
        results.append(ModeResult(mode, hits, (time.perf_counter() - started) * 1000))
    return results
