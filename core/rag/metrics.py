"""Retrieval quality against labelled relevant sources: recall@k, precision@k, MRR, nDCG@k.

Inputs are the ranked sources of the retrieved chunks (several chunks may
come from one file) and the set of sources a person marked relevant. A file
counts once: its first chunk earns the credit, repeats earn nothing, so a
ranking cannot score by returning one file five times.

At evidence level a hit is stricter: a retrieved chunk that holds every line
of a labelled evidence range (the lines that answer the question), not just a
chunk of the right file.
"""

from __future__ import annotations

import math
from typing import Collection, Protocol, Sequence


def recall_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Share of the relevant sources found among the top k."""
    _check(relevant, k)
    return len(set(ranked[:k]) & set(relevant)) / len(set(relevant))


def precision_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Share of the top k results that are distinct relevant sources."""
    _check(relevant, k)
    return sum(_first_hits(ranked[:k], relevant)) / k


def reciprocal_rank(ranked: Sequence[str], relevant: Collection[str]) -> float:
    """1 / rank of the first relevant result; 0 when none is."""
    for rank, source in enumerate(ranked, start=1):
        if source in relevant:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Discounted gain of the top k over the best possible ordering (binary relevance)."""
    _check(relevant, k)
    gains = _first_hits(ranked[:k], relevant)
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains))
    ideal = sum(1 / math.log2(i + 2) for i in range(min(k, len(set(relevant)))))
    return dcg / ideal


class Span(Protocol):
    """Lines of a source: a retrieved chunk (`Hit`, `Citation`) or a labelled evidence range."""

    source: str
    start_line: int
    end_line: int


def holds(chunk: Span, evidence: Span) -> bool:
    return chunk.source == evidence.source and chunk.start_line <= evidence.start_line \
        and chunk.end_line >= evidence.end_line


def evidence_recall_at_k(ranked: Sequence[Span], evidence: Sequence[Span], k: int) -> float:
    """Share of the evidence ranges that some chunk of the top k holds whole."""
    _check(evidence, k)
    return sum(any(holds(chunk, span) for chunk in ranked[:k]) for span in evidence) / len(evidence)


def evidence_reciprocal_rank(ranked: Sequence[Span], evidence: Sequence[Span]) -> float:
    """1 / rank of the first chunk that holds an evidence range whole; 0 when none does."""
    for rank, chunk in enumerate(ranked, start=1):
        if any(holds(chunk, span) for span in evidence):
            return 1.0 / rank
    return 0.0


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def _first_hits(ranked: Sequence[str], relevant: Collection[str]) -> list[int]:
    seen: set[str] = set()
    gains = []
    for source in ranked:
        gains.append(int(source in relevant and source not in seen))
        seen.add(source)
    return gains


def _check(relevant: Collection[str], k: int) -> None:
    if not relevant:
        raise ValueError("no relevant sources given: label at least one per question")
    if k < 1:
        raise ValueError(f"k must be at least 1, not {k}")
