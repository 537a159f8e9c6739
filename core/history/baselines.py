"""Baselines: one run per eval set that later runs are checked against.

A later run regressed on a metric when, for a system both ran, the 95% interval of its paired
difference from the baseline lies wholly below zero (`core.history.compare`).
"""

from __future__ import annotations

from typing import Optional

from sqlmodel import select

from core.access import Actor, Role, audit, require
from core.evaluation.runs import get_run
from core.history.compare import MetricComparison, compare_runs
from core.store import Database
from core.store.tables import EvalRun


def set_baseline(db: Database, run_id: int, actor: Actor) -> EvalRun:
    """Make the run its eval set's baseline (the previous one stops being it), in one write transaction."""
    require(actor, Role.ADMIN, "set a baseline")
    run = get_run(db, run_id)
    with db.session(immediate=True) as session:
        previous = session.exec(select(EvalRun).where(EvalRun.eval_set == run.eval_set,
                                                      EvalRun.is_baseline == True)).all()  # noqa: E712
        audit.record(session, actor, "baselines.set", f"eval set {run.eval_set}",
                     before={"run": previous[0].id if previous else None}, after={"run": run_id})
        for other in previous:
            other.is_baseline = False
            session.add(other)
        chosen = session.get(EvalRun, run_id)
        chosen.is_baseline = True
        session.add(chosen)
    return get_run(db, run_id)


def baseline_of(db: Database, eval_set: str) -> Optional[EvalRun]:
    with db.session() as session:
        return session.exec(select(EvalRun).where(EvalRun.eval_set == eval_set,
                                                  EvalRun.is_baseline == True)).first()  # noqa: E712


def regressions(db: Database, run: EvalRun) -> dict[str, list[MetricComparison]]:
    """{system: the metrics it regressed on} against its eval set's baseline, for systems both ran."""
    baseline = baseline_of(db, run.eval_set)
    if baseline is None or baseline.id == run.id:
        return {}
    found = {}
    for system in (s for s in run.systems if s in baseline.systems):
        regressed = compare_runs(db, baseline.id, run.id, system, system).regressions
        if regressed:
            found[system] = regressed
    return found
