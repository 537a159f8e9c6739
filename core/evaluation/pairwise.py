"""LLM-as-judge, pairwise: which of two systems answered each question better?

Each pair is judged twice, once with each answer shown first, because judges favour a position.
When the two orders disagree the pair is a tie, and the share of pairs whose orders agreed is the
judge's position consistency. The result is kept in the run's `pairwise` field. It runs as a job
(`submit_pairwise`), the eval job kind's third path beside answering and re-scoring.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Literal, Optional

from pydantic import BaseModel, Field

from core.access import Actor, Role, require
from core.errors import InvalidInputError
from core.evaluation.judge import ask_judge
from core.evaluation.runs import get_run, results, update_run
from core.evaluation.sets import eval_items
from core.llm.base import Backend, Prompt
from core.llm.spec import parse_spec
from core.store import Database
from core.store.tables import EvalRun, Job

SYSTEM = (
    "You compare two answers to the same question against a reference answer and say which one is more "
    'correct. Reply with only a JSON object: {"winner": "A" or "B" or "tie", "reason": "<one sentence>"}'
)


class PairReply(BaseModel):
    winner: Literal["A", "B", "tie"]
    reason: str = Field(min_length=1)


@dataclass(frozen=True)
class PairVerdict:
    item_id: str
    winner: Optional[str]  # "A", "B", "tie", or None when the judge gave no valid verdict
    consistent: Optional[bool]  # did both orders agree (None on a failure)
    reasons: tuple[str, ...]


def ask_pair(backend: Backend, question: str, reference: str, first: str, second: str) -> PairReply:
    prompt = Prompt.ask(f"Question: {question}\n\nReference answer: {reference or '(none)'}\n\nAnswer A: {first}\n\n"
                        f"Answer B: {second}\n\nReply with the JSON object only.", system=SYSTEM)
    return ask_judge(backend, prompt, PairReply)


def compare(backend: Backend, item_id: str, question: str, reference: str, answer_a: str, answer_b: str) -> PairVerdict:
    """Judge A against B in both orders; a disagreement between the orders is a tie."""
    try:
        straight = ask_pair(backend, question, reference, answer_a, answer_b)
        swapped = ask_pair(backend, question, reference, answer_b, answer_a)
    except ValueError as exc:
        return PairVerdict(item_id, None, None, (str(exc),))
    unswapped = {"A": "B", "B": "A", "tie": "tie"}[swapped.winner]
    consistent = straight.winner == unswapped
    return PairVerdict(item_id, straight.winner if consistent else "tie", consistent,
                       (straight.reason, swapped.reason))


def submit_pairwise(db: Database, run_id: int, system_a: str, system_b: str, judge: str, *, actor: Actor) -> Job:
    """Check the pair and queue the judging as a job of the run."""
    from core.evaluation.runs import check_run_finished
    from core.evaluation.job import EvalJob
    from core.jobs.scheduler import submit

    require(actor, Role.REVIEWER, "judge a run's pairs")
    run = check_run_finished(db, run_id)
    system_a, system_b = _pair(run, system_a, system_b)
    if not judge or not judge.strip():
        raise InvalidInputError("Choose a judge for the pairwise comparison, e.g. anthropic:claude-sonnet-4-5.")
    judge = parse_spec(judge).text
    job = submit(db, EvalJob.name, {"run_id": run_id, "pairwise": [system_a, system_b], "judge": judge},
                 title=f"pairwise judge {judge} on run {run_id}: {system_a} vs {system_b}", created_by=actor.email)
    update_run(db, run_id, job_id=job.id)
    return job


def _pair(run: EvalRun, system_a: str, system_b: str) -> tuple[str, str]:
    system_a, system_b = parse_spec(system_a).text, parse_spec(system_b).text
    missing = [s for s in (system_a, system_b) if s not in run.systems]
    if missing or system_a == system_b:
        raise InvalidInputError(f"Pick two different systems of run {run.id}: {', '.join(run.systems)}.")
    return system_a, system_b


def judge_pairs(db: Database, run_id: int, system_a: str, system_b: str, judge: str, backend: Backend,
                progress: Callable[[float, str], None] = lambda fraction, text: None,
                checkpoint: Optional[Path] = None) -> dict:
    """Compare two of a run's systems on every question both answered; saved with the run. Each verdict
    is appended to `checkpoint` as it comes, and the verdicts found there are not asked again (a job's
    resume after a kill pays for no pair twice)."""
    run = get_run(db, run_id)
    system_a, system_b = _pair(run, system_a, system_b)
    answers = {(r.system, r.item_id): r for r in results(db, run_id) if r.error is None}
    items = [item for item in eval_items(db, run.eval_set)
             if (system_a, item.item_id) in answers and (system_b, item.item_id) in answers]
    earlier = _read_verdicts(checkpoint)
    verdicts = []
    for item in items:
        verdict = earlier.get(item.item_id)
        if verdict is None:
            verdict = compare(backend, item.item_id, item.question, item.reference_answer or "",
                              answers[system_a, item.item_id].text, answers[system_b, item.item_id].text)
            _append_verdict(checkpoint, verdict)
        verdicts.append(verdict)
        progress(len(verdicts) / len(items), f"judged {len(verdicts)} of {len(items)} pairs")
    judged = [v for v in verdicts if v.winner is not None]
    outcome = {"judge": parse_spec(judge).text, "a": system_a, "b": system_b, "pairs": len(verdicts),
               "a_wins": sum(v.winner == "A" for v in judged), "b_wins": sum(v.winner == "B" for v in judged),
               "ties": sum(v.winner == "tie" for v in judged), "failures": len(verdicts) - len(judged),
               "position_consistency": sum(bool(v.consistent) for v in judged) / len(judged) if judged else None,
               "verdicts": [asdict(v) for v in verdicts]}
    _keep(db, run_id, f"{system_a} vs {system_b}", outcome)
    return outcome


def _read_verdicts(checkpoint: Optional[Path]) -> dict[str, PairVerdict]:
    """The verdicts a previous attempt appended; a line a kill cut short is judged again."""
    verdicts = {}
    lines = checkpoint.read_text(encoding="utf-8").splitlines() if checkpoint and checkpoint.is_file() else []
    for line in lines:
        try:
            fields = json.loads(line)
            verdicts[fields["item_id"]] = PairVerdict(**{**fields, "reasons": tuple(fields["reasons"])})
        except (ValueError, KeyError, TypeError):
            continue
    return verdicts


def _append_verdict(checkpoint: Optional[Path], verdict: PairVerdict) -> None:
    if checkpoint is not None:
        with open(checkpoint, "a", encoding="utf-8") as file:
            file.write(json.dumps(asdict(verdict)) + "\n")


def _keep(db: Database, run_id: int, pair: str, outcome: dict) -> None:
    """Add the outcome to the run's pairwise results, read and written in one write transaction."""
    with db.session(immediate=True) as session:
        run = session.get(EvalRun, run_id)
        run.pairwise = {**run.pairwise, pair: outcome}
        session.add(run)
