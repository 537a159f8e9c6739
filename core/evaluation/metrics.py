"""The lab's own offline metrics: exact match, containing the reference, keyword presence, token F1, semantic
similarity, and retrieval quality against the item's labelled sources. Which function scores
which metric, and what each metric needs, is in `core.evaluation.catalog`.

Each scores one answer from 0 to 1, or gives None where the item or the system
lacks what the metric needs (no reference answer, no keywords, no retrieval):
a missing score is not a zero. Normalisation follows SQuAD's: lowercase, no
punctuation, no articles.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import numpy as np

from core.rag import metrics as retrieval

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans({character: " " for character in string.punctuation})


@dataclass(frozen=True)
class Graded:
    """What a metric sees of one answer to one eval item."""

    answer: str
    reference: Optional[str] = None
    keywords: tuple[str, ...] = ()
    retrieved: Optional[tuple[retrieval.Span, ...]] = None  # RAG systems: every chunk given, best first
    relevant_sources: tuple[str, ...] = ()
    evidence: tuple[retrieval.Span, ...] = ()  # the labelled lines that answer the item


def normalise(text: str) -> str:
    return " ".join(_ARTICLES.sub(" ", text.lower().translate(_PUNCTUATION)).split())


def exact_match(graded: Graded) -> Optional[float]:
    if graded.reference is None:
        return None
    return float(normalise(graded.answer) == normalise(graded.reference))


def contains_reference(graded: Graded) -> Optional[float]:
    """1 when the normalised answer holds the normalised reference as whole words (promptfoo's `icontains`,
    but "45" is not found in "450"); None for a missing or empty reference."""
    reference = normalise(graded.reference) if graded.reference is not None else ""
    if not reference:
        return None
    return float(f" {reference} " in f" {normalise(graded.answer)} ")


def token_f1(graded: Graded) -> Optional[float]:
    """Overlap of answer and reference words: the harmonic mean of precision and recall."""
    if graded.reference is None:
        return None
    answer, reference = normalise(graded.answer).split(), normalise(graded.reference).split()
    if not answer or not reference:
        return float(answer == reference)
    common = sum((Counter(answer) & Counter(reference)).values())
    if not common:
        return 0.0
    precision, recall = common / len(answer), common / len(reference)
    return 2 * precision * recall / (precision + recall)


def keyword_presence(graded: Graded) -> Optional[float]:
    """The share of the item's required keywords the answer contains (case-insensitive)."""
    if not graded.keywords:
        return None
    answer = graded.answer.lower()
    return sum(keyword.lower() in answer for keyword in graded.keywords) / len(graded.keywords)


def _retrieval_metric(score: Callable[[tuple[str, ...], tuple[str, ...]], float]) -> Callable[[Graded], Optional[float]]:
    """A file-level retrieval metric, for RAG answers to items with labelled sources."""
    def metric(graded: Graded) -> Optional[float]:
        if graded.retrieved is None or not graded.relevant_sources:
            return None
        return score(tuple(chunk.source for chunk in graded.retrieved), graded.relevant_sources)
    return metric


def _evidence_metric(score: Callable[[tuple, tuple], float]) -> Callable[[Graded], Optional[float]]:
    """An evidence-level retrieval metric, for RAG answers to items with labelled evidence lines."""
    def metric(graded: Graded) -> Optional[float]:
        if graded.retrieved is None or not graded.evidence:
            return None
        return score(graded.retrieved, graded.evidence)
    return metric


recall_at_5 = _retrieval_metric(lambda ranked, relevant: retrieval.recall_at_k(ranked, relevant, 5))
mrr = _retrieval_metric(retrieval.reciprocal_rank)
ndcg_at_5 = _retrieval_metric(lambda ranked, relevant: retrieval.ndcg_at_k(ranked, relevant, 5))
evidence_recall_at_5 = _evidence_metric(lambda ranked, evidence: retrieval.evidence_recall_at_k(ranked, evidence, 5))
evidence_mrr = _evidence_metric(retrieval.evidence_reciprocal_rank)


def semantic_similarity(graded: Sequence[Graded], embed: Callable[[list[str]], np.ndarray]) -> list[Optional[float]]:
    """Cosine similarity of each answer to its reference, with the local embedding model
    (`embed` returns one normalised row per text), in one batch."""
    pairs = [(i, g) for i, g in enumerate(graded) if g.reference is not None]
    scores: list[Optional[float]] = [None] * len(graded)
    if not pairs:
        return scores
    vectors = embed([g.answer for _, g in pairs] + [g.reference for _, g in pairs])
    answers, references = vectors[:len(pairs)], vectors[len(pairs):]
    for (i, _), a, r in zip(pairs, answers, references):
        scores[i] = float(np.clip(np.dot(a, r), -1.0, 1.0))
    return scores
