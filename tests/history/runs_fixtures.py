"""Eval runs written straight into the store, with chosen scores: comparisons need no model."""

from __future__ import annotations

from typing import Optional

from core.access import LOCAL_ADMIN
from core.evaluation.runs import finish_run, save_answers
from core.evaluation.sets import get_eval_set, import_eval_set
from core.store.tables import EvalResult, EvalRun


def eval_set(db, name: str = "s", questions: int = 20, wording: str = "Question") -> str:
    import_eval_set(db, name, "\n".join(f'{{"id": "q{n}", "question": "{wording} {n}?"}}' for n in range(questions)),
                    "test", actor=LOCAL_ADMIN)
    return name


def stored_run(db, set_name: str, scores: dict[str, list[float]], system: str = "local:smollm2") -> EvalRun:
    """A finished run of one system whose question n scored `scores[metric][n]`."""
    return stored_systems_run(db, set_name, {system: scores})


def stored_systems_run(db, set_name: str, by_system: dict[str, dict[str, list[float]]],
                       session_id: Optional[int] = None) -> EvalRun:
    """A finished run of several systems, optionally answering a decision session, of the set's stored content."""
    asked = get_eval_set(db, set_name)
    with db.session() as session:
        run = EvalRun(eval_set=set_name, eval_set_id=asked.id, eval_set_sha256=asked.sha256, systems=list(by_system),
                      metrics=sorted({m for s in by_system.values() for m in s}),
                      decision_session_id=session_id)
        session.add(run)
    for system, scores in by_system.items():
        count = len(next(iter(scores.values())))
        answers = [EvalResult(run_id=run.id, item_id=f"q{n}", position=n, system=system, text=f"answer {n}",
                              latency_ms=100.0 + n, cost_usd=0.001) for n in range(count)]
        save_answers(db, answers, [{metric: (values[n], None) for metric, values in scores.items()}
                                   for n in range(count)])
    return finish_run(db, run.id, {system: {"spec": system} for system in by_system})
