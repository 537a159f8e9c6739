"""A decision session as a markdown report: verdict, reasons, the room's
answers with their disagreements, and the experiment that would confirm it."""

from __future__ import annotations

from typing import Mapping

from core.checklist.instruments import (
    FRAMING_ANSWERS,
    FRAMING_KEY,
    FRAMING_QUESTION,
    NINE_QUESTIONS,
    QUICK_STEPS,
    SIX_FACTORS,
)
from core.checklist.room import QuestionPoll, consensus_answers, room_polls
from core.checklist.variants import variant_labels
from core.checklist.verdict import decide
from core.store.tables import DecisionSession

FACTOR_ANSWER_LABELS = {"rag": "RAG", "fine_tune": "Fine-tuning", "neutral": "Neutral"}


def render_markdown(record: DecisionSession, answers: Mapping[str, Mapping[str, str]]) -> str:
    polls = room_polls(answers)
    verdict = decide(consensus_answers(answers))
    participants = ", ".join(sorted(answers)) or "nobody yet"
    lines = [
        f"# Decision session: {record.name}",
        "",
        f"Updated {record.updated_at:%Y-%m-%d %H:%M} UTC. Participants: {participants}.",
        *(["", f"> {record.context}"] if record.context else []),
        "",
        f"## Verdict: {verdict.recommendation.label}",
        "",
        *[f"- {reason}" for reason in verdict.reasons],
        "",
        "## Experiment that would confirm it",
        "",
        f"Variants to build and compare: {variant_labels(verdict.experiment.variants)}.",
        "",
        f"Eval set: {verdict.experiment.eval_set}",
        "",
        f"Confirmed if: {verdict.experiment.confirms_if}",
        "",
        "## Framing",
        "",
        _poll_table([(FRAMING_QUESTION, polls[FRAMING_KEY])], FRAMING_ANSWERS),
        "## Nine-question checklist",
        "",
        _poll_table([(f"{i}. {q.text}", polls[f"checklist.{q.key}"]) for i, q in enumerate(NINE_QUESTIONS, 1)]),
        "## Six-factor scoring table",
        "",
        f"Tally: RAG {verdict.factors.rag}, fine-tuning {verdict.factors.fine_tune}, "
        f"neutral {verdict.factors.neutral}, unanswered {verdict.factors.unanswered}.",
        "",
        _poll_table([(f.name, polls[f"factor.{f.key}"]) for f in SIX_FACTORS], FACTOR_ANSWER_LABELS),
        "## Five-step quick list",
        "",
        _poll_table([(f"{i}. {q.text}", polls[f"quick.{q.key}"]) for i, q in enumerate(QUICK_STEPS, 1)]),
    ]
    return "\n".join(lines)


def _poll_table(rows: list[tuple[str, QuestionPoll]], labels: Mapping[str, str] | None = None) -> str:
    label = (lambda a: labels.get(a, a)) if labels else (lambda a: a)
    out = ["| Question | Room | Answers |", "| --- | --- | --- |"]
    for text, p in rows:
        consensus = label(p.consensus) if p.consensus else "unanswered"
        if p.disagreement:
            consensus += " (split)"
        detail = "; ".join(f"{label(a)}: {', '.join(names)}" for a, names in p.by_answer.items()) or "-"
        out.append(f"| {text} | {consensus} | {detail} |")
    return "\n".join(out) + "\n"
