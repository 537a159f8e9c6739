"""Baselines: one run per eval set that later runs are checked against.

A later run regressed on a metric when, for a system both ran, the comparison's one rule says
"B worse" (`core.history.compare.verdict_of`), its p-value Holm-adjusted over every metric of every
system the check tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from sqlmodel import select

from core.access import Actor, Role, audit, require
from core.evaluation.runs import get_run
from core.history.compare import DifferentContentError, MetricComparison, compare_runs, with_holm
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
    with db.session(immediate=False) as session:
        return session.exec(select(EvalRun).where(EvalRun.eval_set == eval_set,
                                                  EvalRun.is_baseline == True)).first()  # noqa: E712


@dataclass(frozen=True)
class BaselineCheck:
    baseline: Optional[int] = None  # the baseline run; None: none to check against
    regressions: dict[str, list[MetricComparison]] = field(default_factory=dict)  # {system: metrics it regressed on}
    tests: int = 0  # the paired tests Holm's correction counted
    notes: tuple[str, ...] = ()  # why the check was refused, or what to verify before trusting it


def check_against_baseline(db: Database, run: EvalRun) -> BaselineCheck:
    """The run against its eval set's baseline, on every system both ran, as one family of tests."""
    baseline = baseline_of(db, run.eval_set)
    if baseline is None or baseline.id == run.id:
        return BaselineCheck()
    try:
        comparisons = [compare_runs(db, baseline.id, run.id, system, system)
                       for system in run.systems if system in baseline.systems]
    except DifferentContentError as exc:
        return BaselineCheck(baseline.id, notes=(str(exc),))
    systems = [comparison.system_b for comparison in comparisons for _ in comparison.metrics]
    metrics = with_holm([metric for comparison in comparisons for metric in comparison.metrics])
    found: dict[str, list[MetricComparison]] = {}
    for system, metric in zip(systems, metrics):
        if metric.regressed:
            found.setdefault(system, []).append(metric)
    return BaselineCheck(baseline.id, found, len(metrics), comparisons[0].notes if comparisons else ())
