"""Pure scoring of the instruments: walk a checklist, tally the factors.

No I/O here: every function takes answers (question key -> answer) and
returns plain values, so each path is easy to test.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

from core.checklist.instruments import (
    FACTOR_ANSWERS,
    FINE_TUNE_SIDE,
    NEUTRAL,
    RAG_SIDE,
    UNSURE,
    YES_NO_ANSWERS,
    Factor,
    Question,
    Recommendation,
)


@dataclass(frozen=True)
class Step:
    """One question visited on a walk, and where its arrow pointed (None: continue)."""

    question: Question
    answer: Optional[str]
    arrow: Optional[Recommendation]


@dataclass(frozen=True)
class WalkResult:
    recommendation: Recommendation
    steps: tuple[Step, ...]
    trigger: Optional[Question]  # the question whose arrow ended the walk
    doubts: tuple[Question, ...]  # questions passed unanswered or "unsure"
    reason: str

    @property
    def answered(self) -> int:
        return sum(1 for step in self.steps if step.answer in YES_NO_ANSWERS)


def walk(questions: Sequence[Question], answers: Mapping[str, str], fallback_reason: str) -> WalkResult:
    """Follow the arrows until one stops the walk.

    An unanswered or "unsure" question is passed as a doubt. A stop at RAG
    stands whatever the doubts; a stop at fine-tuning or both after a doubt
    becomes "start with RAG" (the seeds: "when in doubt"), and so does a walk
    that runs out of questions.
    """
    steps, doubts = [], []
    for question in questions:
        answer = answers.get(question.key)
        arrow = question.arrow(answer) if answer else None
        steps.append(Step(question, answer, arrow))
        if answer in (None, UNSURE):
            doubts.append(question)
        elif arrow is not None:
            return _stop(question, answer, arrow, tuple(steps), tuple(doubts))
    return WalkResult(Recommendation.START_WITH_RAG, tuple(steps), None, tuple(doubts), fallback_reason)


def _stop(question: Question, answer: str, arrow: Recommendation,
          steps: tuple[Step, ...], doubts: tuple[Question, ...]) -> WalkResult:
    reason = question.why(answer)
    if arrow in (Recommendation.RAG, Recommendation.START_WITH_RAG) or not doubts:
        return WalkResult(arrow, steps, question, doubts, reason)
    unsure = ", ".join(f'"{q.text}"' for q in doubts)
    reason = (f"The arrows lead to {arrow.short} ({reason.rstrip('.')}), but the room was "
              f"unsure of {unsure}. When in doubt, start with RAG: its failures become the "
              "fine-tuning training signal.")
    return WalkResult(Recommendation.START_WITH_RAG, steps, question, doubts, reason)


@dataclass(frozen=True)
class FactorTally:
    rag: int
    fine_tune: int
    neutral: int
    unanswered: int

    @property
    def leaning(self) -> Optional[Recommendation]:
        """The column with more check marks; None when even."""
        if self.rag == self.fine_tune:
            return None
        return Recommendation.RAG if self.rag > self.fine_tune else Recommendation.FINE_TUNE


def tally_factors(factors: Sequence[Factor], answers: Mapping[str, str]) -> FactorTally:
    counts = Counter(answers.get(f.key) for f in factors)
    return FactorTally(
        rag=counts[RAG_SIDE],
        fine_tune=counts[FINE_TUNE_SIDE],
        neutral=counts[NEUTRAL],
        unanswered=len(factors) - sum(counts[a] for a in FACTOR_ANSWERS),
    )
