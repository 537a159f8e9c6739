"""What the Decide, Report and Home pages show of decision sessions: labels, the room's answers as one
line, the verdict's experiment, trade-off tables and session lists, as plain strings and rows (no Streamlit)."""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

from core.checklist import instruments as ins
from core.checklist.room import QuestionPoll
from core.checklist.sessions import SessionSummary
from core.checklist.tradeoffs import Table
from core.checklist.variants import variant_labels
from core.checklist.verdict import ExperimentPlan

YES_NO_LABELS = {ins.YES: "Yes", ins.NO: "No", ins.UNSURE: "Unsure"}
FACTOR_LABELS = {ins.RAG_SIDE: "RAG side", ins.FINE_TUNE_SIDE: "Fine-tuning side", ins.NEUTRAL: "Neutral"}
RECENT_SESSIONS = 10


def requested_session(requested: Optional[str], session_ids: Sequence[int]) -> Optional[int]:
    """The session a `?session=` link names, or None when it names none that exists."""
    if requested is None or not requested.isdigit() or int(requested) not in session_ids:
        return None
    return int(requested)


def factor_options(factor: ins.Factor) -> dict[str, str]:
    """A six-factor row's answers, each side worded as the table describes it."""
    return {ins.RAG_SIDE: f"RAG: {factor.rag_side}", ins.FINE_TUNE_SIDE: f"Fine-tuning: {factor.fine_tune_side}",
            ins.NEUTRAL: "Neutral"}


def arrow_hint(question: ins.Question) -> str:
    """Where each answer leads: "Yes → RAG only · No → continue"."""
    def target(arrow: Optional[ins.Recommendation]) -> str:
        return arrow.label if arrow else "continue"
    return f"Yes → {target(question.on_yes)} · No → {target(question.on_no)}"


def room_summary(poll: QuestionPoll, labels: Mapping[str, str]) -> str:
    """Who in the room answered what, flagged when the room splits."""
    if not poll.by_answer:
        return "Room: no answers yet"
    parts = [f"**{labels.get(answer, answer)}**: {', '.join(names)}" for answer, names in poll.by_answer.items()]
    return "Room: " + " · ".join(parts) + (" · :orange[split room]" if poll.disagreement else "")


def split_questions(polls: Mapping[str, QuestionPoll]) -> list[str]:
    """The questions the room disagrees on, worth talking through first."""
    return [ins.QUESTION_TEXTS[key] for key, poll in polls.items() if poll.disagreement]


def experiment_text(plan: ExperimentPlan) -> str:
    return (f"Build and compare: {variant_labels(plan.variants)}  \n"
            f"Eval set: {plan.eval_set}  \nConfirmed if: {plan.confirms_if}")


def tradeoff_rows(table: Table) -> list[dict[str, str]]:
    return [dict(zip(table.columns, row)) for row in table.rows]


def recent_session_rows(sessions: Sequence[SessionSummary], limit: int = RECENT_SESSIONS) -> list[dict[str, Any]]:
    return [{"Session": s.name, "Participants": s.participants, "Verdict": s.recommendation,
             "Updated (UTC)": f"{s.updated_at:%Y-%m-%d %H:%M}"} for s in sessions[:limit]]
