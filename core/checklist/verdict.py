"""The verdict of all instruments together, with its reasons and the experiment
that would confirm it.

The nine-question checklist decides (it alone has the four tiers); the framing,
the six-factor table and the quick list corroborate it or flag a conflict
worth discussing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping, Optional

from core.checklist.instruments import (
    FRAMING_ANSWERS,
    FRAMING_KEY,
    FRAMING_NOTE,
    FRAMING_POINTS_TO,
    NINE_QUESTIONS,
    QUICK_FALLBACK,
    QUICK_STEPS,
    SIX_FACTORS,
    Recommendation,
)
from core.checklist.scoring import FactorTally, WalkResult, tally_factors, walk

R = Recommendation


@dataclass(frozen=True)
class ExperimentPlan:
    variants: tuple[str, ...]  # keys of core.checklist.variants.VARIANTS, in the order to build them
    eval_set: str
    confirms_if: str


EXPERIMENTS: dict[Recommendation, ExperimentPlan] = {
    R.RAG: ExperimentPlan(
        ("base", "rag"),
        "Factual questions about your own documents, each labelled with the source files that "
        "answer it; include questions about recently changed documents.",
        "RAG beats the base model on correctness and faithfulness, and retrieval recall@5 is high "
        "enough that misses are rare.",
    ),
    R.FINE_TUNE: ExperimentPlan(
        ("base", "fine_tuned", "rag"),
        "Held-out tasks in the target format, tone or terminology with reference outputs, never "
        "seen in training; include paraphrased inputs.",
        "The fine-tuned model beats the base model and RAG on judge-scored format and style "
        "adherence, and holds up on the paraphrases.",
    ),
    R.BOTH: ExperimentPlan(
        ("base", "rag", "fine_tuned", "rag_fine_tuned"),
        "A mixed golden set: factual questions with labelled sources, and format or style tasks "
        "with reference outputs, scored separately.",
        "RAG + fine-tuned beats both single approaches overall, RAG wins the factual half and "
        "fine-tuning the behaviour half.",
    ),
    R.START_WITH_RAG: ExperimentPlan(
        ("base", "rag"),
        "A 50-question golden set from real user questions with reference answers and sources; "
        "label each RAG failure as a retrieval miss or a behaviour problem.",
        "RAG fixes the knowledge failures. If the failures left are behaviour (format, tone), they "
        "become the fine-tuning dataset and the next run adds fine-tuned and RAG + fine-tuned.",
    ),
}


@dataclass(frozen=True)
class Verdict:
    recommendation: Recommendation
    reasons: tuple[str, ...]
    checklist: WalkResult
    quick: WalkResult
    factors: FactorTally
    framing: Optional[str]
    experiment: ExperimentPlan

    def to_record(self) -> dict[str, Any]:
        """A JSON-ready summary, stored with the session for later pages."""
        trigger = self.checklist.trigger
        return {
            "recommendation": self.recommendation.value,
            "label": self.recommendation.label,
            "reasons": list(self.reasons),
            "trigger": trigger.key if trigger else None,
            "doubts": [q.key for q in self.checklist.doubts],
            "factors": asdict(self.factors),
            "quick_list": self.quick.recommendation.value,
            "framing": self.framing,
            "experiment": asdict(self.experiment),
        }


def decide(answers: Mapping[str, str]) -> Verdict:
    """The verdict for one set of answers keyed like `QUESTION_ANSWERS`."""
    checklist = walk(NINE_QUESTIONS, _section(answers, "checklist."),
                     "No question stopped the walk; when in doubt, start with RAG.")
    quick = walk(QUICK_STEPS, _section(answers, "quick."), QUICK_FALLBACK)
    factors = tally_factors(SIX_FACTORS, _section(answers, "factor."))
    framing = answers.get(FRAMING_KEY)
    recommendation = checklist.recommendation
    reasons = (
        _checklist_reason(checklist),
        *_framing_reasons(framing, recommendation),
        *_factor_reasons(factors, recommendation),
        *_quick_reasons(quick, recommendation),
    )
    return Verdict(recommendation, reasons, checklist, quick, factors, framing,
                   EXPERIMENTS[recommendation])


def _section(answers: Mapping[str, str], prefix: str) -> dict[str, str]:
    return {k[len(prefix):]: v for k, v in answers.items() if k.startswith(prefix)}


def _agree(a: Recommendation, b: Recommendation) -> bool:
    rag_family = {R.RAG, R.START_WITH_RAG}
    return a == b or {a, b} <= rag_family


def _checklist_reason(result: WalkResult) -> str:
    if result.trigger is None:
        return f"Checklist: {result.reason}"
    number = NINE_QUESTIONS.index(result.trigger) + 1
    answer = next(s.answer for s in result.steps if s.question is result.trigger)
    return f"Checklist question {number} ({result.trigger.text}) answered {answer}: {result.reason}"


def _framing_reasons(framing: Optional[str], recommendation: Recommendation) -> list[str]:
    points_to = FRAMING_POINTS_TO.get(framing or "")
    if points_to is None:
        return []
    stance = "agrees" if _agree(points_to, recommendation) else "conflicts: discuss it"
    return [f"Framing: {FRAMING_ANSWERS[framing]}, pointing to {points_to.short}; this "
            f"{stance}. {FRAMING_NOTE if points_to != R.RAG else ''}".strip()]


def _factor_reasons(tally: FactorTally, recommendation: Recommendation) -> list[str]:
    if tally.unanswered == len(SIX_FACTORS):
        return []
    counts = f"RAG {tally.rag}, fine-tuning {tally.fine_tune}, neutral {tally.neutral}"
    if tally.leaning is None:
        return [f"Six-factor table: {counts}; it is even, so it does not break the tie."]
    stance = "agrees" if _agree(tally.leaning, recommendation) else "leans the other way: discuss it"
    return [f"Six-factor table: {counts}; it leans {tally.leaning.short} and {stance}."]


def _quick_reasons(quick: WalkResult, recommendation: Recommendation) -> list[str]:
    if quick.answered == 0:
        return []
    stance = "agrees" if _agree(quick.recommendation, recommendation) else "disagrees: discuss it"
    return [f"Quick list: {quick.recommendation.short} ({quick.reason}); it {stance}."]
