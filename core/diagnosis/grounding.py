"""Whether a RAG answer's retrieved context held the reference, and whether the answer was right: how the
context-ignored and self-disagreement detectors judge each answer, from what the run recorded."""

from __future__ import annotations

from typing import Optional, Sequence

from core.diagnosis.evidence import RunEvidence
from core.evaluation.catalog import CONTAINS_REFERENCE, JUDGE_CORRECTNESS, SHORT_REFERENCE_WORDS
from core.evaluation.metrics import Graded, contains_reference
from core.store.tables import EvalResult

# What says an answer was right, most trusted first; the first a run scored is used for all its answers.
# faithfulness comes last: it says whether the answer kept to its chunks, not whether it answered.
CORRECTNESS_METRICS = (JUDGE_CORRECTNESS, CONTAINS_REFERENCE, "token_f1", "faithfulness")
RIGHT_FROM = 0.5  # a judge's grade of 3 of 5 or better, a contained reference, half the reference's words
RETRIEVED_WHOLE = ("recall_at_5", "evidence_recall_at_5")  # 1: every labelled file (or answering line) in the top 5
CONTEXT_RECALL_HELD = 0.8  # ragas context_recall: at least this share of the reference's claims in the chunks


def context_holds_reference(run: RunEvidence, answer: EvalResult) -> Optional[bool]:
    """True when any sign says the chunks held the reference: its words in a chunk, every labelled file or
    answering line in the top 5, or a high ragas context_recall; False when a sign was measured and none
    says so; None when nothing the run recorded can tell."""
    signs = [_text_sign(run, answer)]
    signs += [value == 1.0 if (value := run.score(answer, metric)) is not None else None for metric in RETRIEVED_WHOLE]
    recall = run.score(answer, "context_recall")
    signs.append(recall >= CONTEXT_RECALL_HELD if recall is not None else None)
    measured = [sign for sign in signs if sign is not None]
    return any(measured) if measured else None


def _text_sign(run: RunEvidence, answer: EvalResult) -> Optional[bool]:
    """The normalised reference as whole words in a chunk's text. Its absence counts only for a short
    reference: a long free-text one is seldom held verbatim even by the chunk that answers it."""
    item = run.items.get(answer.item_id)
    reference = item.reference_answer if item is not None else None
    if not reference or not answer.contexts:
        return None
    if any(contains_reference(Graded(chunk.get("text", ""), reference)) for chunk in answer.contexts):
        return True
    return False if len(reference.split()) <= SHORT_REFERENCE_WORDS else None


def correctness_metric(run: RunEvidence, systems: Sequence[str]) -> Optional[str]:
    """The first of CORRECTNESS_METRICS the run scored every one of `systems` on."""
    return next((metric for metric in CORRECTNESS_METRICS
                 if all(run.metric_values(system, metric) for system in systems)), None)


def is_right(value: float) -> bool:
    return value >= RIGHT_FROM


def held_questions(run: RunEvidence, system: str) -> dict[str, bool]:
    """item id -> whether the context of the system's answer held the reference, for the answers that can tell."""
    return {answer.item_id: held for answer in run.answers_of(system)
            if answer.error is None and (held := context_holds_reference(run, answer)) is not None}
