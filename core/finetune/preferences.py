"""Preference pairs from labelled answers: DPO's data, the seed's fix for brittle SFT.

Reviewers grade eval answers correct, partly or wrong. Where one question has an answer graded
correct and another graded wrong (in any runs, from any systems), the two make a pair saying which
answer to prefer: `{prompt, chosen, rejected}` in trl's conversational preference form. The prompt
is the question as an eval run asks it of every system (one user message, no system prompt; a RAG
system wraps its retrieved context around it, which an adapter on its own will not be given).

A question gives one pair, from its newest answers, so that it lands in train or in validation,
never in both. An answer's grade is its human verdict as `core.evaluation.review.human_verdicts`
rules: the settled label where reviewers disagreed, else the label they all gave. That rule is read
here straight from the store, as fine-tuning sits below evaluation.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Optional, Sequence

from sqlmodel import col, select

from core.access import Actor
from core.errors import InvalidInputError, NotFoundError
from core.finetune.builders import Split
from core.finetune.datasets import PREFERENCES, check_may_create
from core.store import Database
from core.store.tables import EvalItem, EvalLabel, EvalResult, EvalRun, EvalSet, FineTuneDataset, SettledLabel

PAIR_FORMAT = "prompt_chosen_rejected"


@dataclass(frozen=True)
class LabelledAnswer:
    run_id: int
    result_id: int
    question: str
    text: str
    verdict: Optional[str]  # correct | partly | wrong; None while its reviewers disagree and nobody settled it


def build_preferences(db: Database, name: str, run_ids: Optional[Sequence[int]] = None, split: Split = Split(), *,
                      actor: Actor) -> FineTuneDataset:
    """Save the preference pairs of the labelled answers of `run_ids` (default: every run) as dataset `name`."""
    check_may_create(db, name, actor)
    answers = labelled_answers(db, run_ids)
    pairs = preference_pairs(answers)
    if not pairs:
        raise InvalidInputError(no_pairs_message(answers, run_ids))
    details = {"runs": sorted({answer.run_id for answer in answers}), "labelled_answers": len(answers),
               "pairs": len(pairs)}
    return split.save(db, name, pairs, PREFERENCES, PAIR_FORMAT, details, actor)


def labelled_answers(db: Database, run_ids: Optional[Sequence[int]] = None) -> list[LabelledAnswer]:
    """Every answer a reviewer labelled in `run_ids` (default: every run), with its question and verdict."""
    with db.session(immediate=False) as session:
        _check_runs_exist(session, run_ids)
        given: dict[int, set[str]] = {}
        for result_id, label in session.exec(_in_runs(select(EvalLabel.result_id, EvalLabel.label),
                                                      EvalLabel.run_id, run_ids)):
            given.setdefault(result_id, set()).add(label)
        settled = dict(session.exec(_in_runs(select(SettledLabel.result_id, SettledLabel.label),
                                             SettledLabel.run_id, run_ids)).all())
        rows = session.exec(select(EvalResult, EvalRun.eval_set).join(EvalRun, col(EvalRun.id) == EvalResult.run_id)
                            .where(col(EvalResult.id).in_(list(given)))
                            .order_by(col(EvalResult.run_id).desc(), col(EvalResult.id).desc())).all()
        questions = _questions(session, {eval_set for _, eval_set in rows})
    return [LabelledAnswer(result.run_id, result.id, questions[eval_set, result.item_id], result.text,
                           settled.get(result.id, _common(given[result.id])))
            for result, eval_set in rows if (eval_set, result.item_id) in questions]


def _common(labels: set[str]) -> Optional[str]:
    return next(iter(labels)) if len(labels) == 1 else None


def _in_runs(query, run_column, run_ids: Optional[Sequence[int]]):
    return query if run_ids is None else query.where(col(run_column).in_(run_ids))


def preference_pairs(answers: Sequence[LabelledAnswer]) -> list[dict]:
    """One pair per question with an answer graded correct and a different one graded wrong: the first of each in
    `answers` (newest first, as `labelled_answers` gives them)."""
    by_question: dict[str, list[LabelledAnswer]] = {}
    for answer in answers:
        by_question.setdefault(answer.question.strip(), []).append(answer)
    pairs = []
    for question, given in by_question.items():
        chosen = next((a for a in given if a.verdict == "correct"), None)
        rejected = next((a for a in given if a.verdict == "wrong" and chosen and a.text.strip() != chosen.text.strip()),
                        None)
        if chosen and rejected:
            pairs.append({"prompt": [{"role": "user", "content": question}],
                          "chosen": [{"role": "assistant", "content": chosen.text}],
                          "rejected": [{"role": "assistant", "content": rejected.text}],
                          "source": f"run {chosen.run_id} answer {chosen.result_id} over "
                                    f"run {rejected.run_id} answer {rejected.result_id}"})
    return pairs


def no_pairs_message(answers: Sequence[LabelledAnswer], run_ids: Optional[Sequence[int]] = None) -> str:
    where = f"Run(s) {', '.join(map(str, run_ids))}" if run_ids else "The eval runs"
    verdicts = Counter(answer.verdict or "unsettled" for answer in answers)
    questions = len({answer.question.strip() for answer in answers})
    return (f"No preference pairs: {where} hold {len(answers)} labelled answer(s) to {questions} question(s) "
            f"({verdicts['correct']} correct, {verdicts['partly']} partly, {verdicts['wrong']} wrong, "
            f"{verdicts['unsettled']} that reviewers disagree on and nobody settled). A pair needs a question with "
            "one answer labelled correct and another labelled wrong: label more answers "
            "(`python -m core review open RUN REVIEWER`), or settle the disagreements.")


def _check_runs_exist(session, run_ids: Optional[Sequence[int]]) -> None:
    missing = [run_id for run_id in run_ids or () if session.get(EvalRun, run_id) is None]
    if missing:
        raise NotFoundError(f"No eval run {', '.join(map(str, missing))}: `python -m core eval list` shows them.")


def _questions(session, eval_sets: set[str]) -> dict[tuple[str, str], str]:
    """(eval set name, item id) -> question; an answer whose set was removed since has no question and is left out."""
    rows = session.exec(select(EvalSet.name, EvalItem.item_id, EvalItem.question)
                        .where(EvalItem.set_id == EvalSet.id, col(EvalSet.name).in_(eval_sets))).all()
    return {(name, item_id): question for name, item_id, question in rows}
