"""Two runs of one eval set compared honestly: per question, per metric, with a paired test.

Scores are paired by question: only questions both runs answered and scored count. For each
metric, the difference (B - A) gets a bootstrap 95% interval, and a paired test says whether it
is significant: McNemar for pass/fail metrics, a paired permutation test for graded ones, as the
metric catalog says. A metric regressed when the whole interval of the difference lies on its
worse side of zero (below, for a metric where higher is better).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from sqlmodel import col, select

from core.errors import InvalidInputError, NotFoundError
from core.evaluation.catalog import CATALOG, MetricInfo
from core.evaluation.runs import get_run
from core.evaluation.stats import Estimate, bootstrap_mean
from core.history.stats import PairedTest, is_pass_fail, mcnemar, paired_permutation
from core.llm.spec import parse_spec
from core.store import Database
from core.store.tables import EvalResult, EvalRun, EvalScore


@dataclass(frozen=True)
class MetricComparison:
    metric: str
    questions: int  # answered and scored in both runs
    mean_a: float
    mean_b: float
    difference: Estimate  # of B - A, with its bootstrap interval
    test: PairedTest
    better: tuple[str, ...]  # question ids where B scored better
    worse: tuple[str, ...]
    higher_is_better: bool = True

    @property
    def improved(self) -> bool:
        """B scored better on average, significantly or not."""
        return self.difference.mean > 0 if self.higher_is_better else self.difference.mean < 0

    @property
    def regressed(self) -> bool:
        return self.difference.high < 0 if self.higher_is_better else self.difference.low > 0

    @property
    def verdict(self) -> str:
        if not self.test.significant:
            return "not significant"
        return "B better" if self.improved else "B worse"


@dataclass(frozen=True)
class RunComparison:
    run_a: int
    run_b: int
    system_a: str
    system_b: str
    metrics: list[MetricComparison] = field(default_factory=list)

    @property
    def regressions(self) -> list[MetricComparison]:
        return [metric for metric in self.metrics if metric.regressed]


def compare_runs(db: Database, run_a: int, run_b: int, system_a: Optional[str] = None,
                 system_b: Optional[str] = None) -> RunComparison:
    """Run B against run A, on one system of each (by default the system both ran, or each run's only one)."""
    a, b = get_run(db, run_a), get_run(db, run_b)
    if a.eval_set != b.eval_set:
        raise InvalidInputError(f"Runs {a.id} and {b.id} graded different eval sets ({a.eval_set}, {b.eval_set}): "
                                "only runs of one set compare question by question.")
    system_a, system_b = _systems(a, b, system_a, system_b)
    scores_a, scores_b = _scores(db, a.id, system_a), _scores(db, b.id, system_b)
    metrics = [_compare_metric(metric, scores_a[metric], scores_b[metric])
               for metric in sorted(scores_a.keys() & scores_b.keys())]
    return RunComparison(a.id, b.id, system_a, system_b, [m for m in metrics if m is not None])


def _systems(a: EvalRun, b: EvalRun, system_a: Optional[str], system_b: Optional[str]) -> tuple[str, str]:
    if system_a or system_b:
        chosen = (parse_spec(system_a or system_b).text, parse_spec(system_b or system_a).text)
    else:
        common = [system for system in a.systems if system in b.systems]
        if len(common) == 1 or (len(a.systems), len(b.systems)) == (1, 1):
            chosen = (common[0], common[0]) if common else (a.systems[0], b.systems[0])
        else:
            raise InvalidInputError(f"Say which systems to compare: run {a.id} ran {', '.join(a.systems)}; run {b.id} "
                                    f"ran {', '.join(b.systems)}.")
    for run, system in ((a, chosen[0]), (b, chosen[1])):
        if system not in run.systems:
            raise NotFoundError(f"Run {run.id} did not run {system}: it ran {', '.join(run.systems)}.")
    return chosen


def _scores(db: Database, run_id: int, system: str) -> dict[str, dict[str, float]]:
    """{metric: {question id: value}} of one system in one run, in the set's order, from SQL."""
    with db.session() as session:
        rows = session.exec(select(EvalScore.metric, EvalResult.item_id, EvalScore.value)
                            .join(EvalResult, col(EvalResult.id) == EvalScore.result_id)
                            .where(EvalScore.run_id == run_id, EvalScore.system == system,
                                   col(EvalScore.value).is_not(None)).order_by(EvalResult.position)).all()
    scores: dict[str, dict[str, float]] = {}
    for metric, item_id, value in rows:
        scores.setdefault(metric, {})[item_id] = value
    return scores


def _compare_metric(metric: str, a: dict[str, float], b: dict[str, float]) -> Optional[MetricComparison]:
    questions = [question for question in a if question in b]
    if not questions:
        return None
    values_a, values_b = [a[q] for q in questions], [b[q] for q in questions]
    info = CATALOG.get(metric)
    higher_is_better = info is None or info.higher_is_better  # a name the catalog lacks (an older run's): upwards
    sign = 1 if higher_is_better else -1
    return MetricComparison(metric, len(questions), sum(values_a) / len(questions), sum(values_b) / len(questions),
                            bootstrap_mean([y - x for x, y in zip(values_a, values_b)]),
                            _paired_test(info, values_a, values_b),
                            tuple(q for q in questions if sign * (b[q] - a[q]) > 0),
                            tuple(q for q in questions if sign * (b[q] - a[q]) < 0), higher_is_better)


def _paired_test(info: Optional[MetricInfo], a: list[float], b: list[float]) -> PairedTest:
    """McNemar for a pass/fail metric, a paired permutation test for a graded one; a metric the catalog
    lacks (an older run's) is pass/fail when every value is 0 or 1."""
    if (info.pass_fail if info is not None else is_pass_fail(a + b)):
        return mcnemar([v == 1.0 for v in a], [v == 1.0 for v in b])
    return paired_permutation(a, b)
