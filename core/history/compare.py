"""Two runs of one eval set compared honestly: per question, per metric, with a paired test.

Scores are paired by question: only questions both runs answered and scored count. For each
metric, the difference (B - A) gets a bootstrap 95% interval, and a paired test says whether it
is significant: McNemar for pass/fail metrics, a paired permutation test for graded ones, as the
metric catalog says. The p-values of the tests shown together (every metric of a comparison, every
metric and system of a baseline check) are Holm-adjusted, and one rule (`verdict_of`) gives every
verdict: B is better or worse only when the adjusted p is below 0.05 and the whole interval of the
difference lies on that side of zero, so a verdict never contradicts the numbers beside it.

Runs pair only when they graded the same questions: runs whose recorded eval-set hashes differ are
refused, and a run made before hashes were recorded is compared but flagged.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Optional, Sequence

from sqlmodel import col, select

from core.errors import InvalidInputError, NotFoundError
from core.evaluation.catalog import CATALOG, MetricInfo
from core.evaluation.runs import get_run
from core.evaluation.stats import Estimate, bootstrap_mean
from core.history.stats import ALPHA, PairedTest, holm, is_pass_fail, mcnemar, paired_permutation
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
    adjusted_p: Optional[float] = None  # Holm-adjusted over the tests shown with it; None: tested alone

    @property
    def p_value(self) -> float:
        """The p-value the verdict rests on."""
        return self.test.p_value if self.adjusted_p is None else self.adjusted_p

    @property
    def verdict(self) -> str:
        return verdict_of(self.difference, self.p_value, self.higher_is_better)

    @property
    def regressed(self) -> bool:
        return self.verdict == WORSE


BETTER, WORSE, NOT_SIGNIFICANT, UNCLEAR = "B better", "B worse", "not significant", "unclear"


def verdict_of(difference: Estimate, p_value: float, higher_is_better: bool = True) -> str:
    """The one rule for every comparison and baseline: B is better (worse) when `p_value`, adjusted for the
    tests shown with it, is below ALPHA and the whole 95% interval of B - A lies on the better (worse) side
    of zero; a significant test whose interval touches zero is unclear."""
    if p_value >= ALPHA:
        return NOT_SIGNIFICANT
    sign = 1 if higher_is_better else -1
    low, high = sorted((sign * difference.low, sign * difference.high))
    if low > 0:
        return BETTER
    return WORSE if high < 0 else UNCLEAR


def with_holm(metrics: Sequence[MetricComparison]) -> list[MetricComparison]:
    """The comparisons with their p-values Holm-adjusted over all of them: one family of tests shown together."""
    adjusted = holm([metric.test.p_value for metric in metrics])
    return [replace(metric, adjusted_p=p) for metric, p in zip(metrics, adjusted)]


def holm_note(tests: int) -> str:
    """The caption that says how the p-values beside a verdict were corrected."""
    return (f"p-values are Holm-adjusted over the {tests} paired test(s) shown together; a verdict needs an adjusted "
            f"p < {ALPHA} and the whole 95% interval of B - A on one side of zero.")


class DifferentContentError(InvalidInputError):
    """Two runs of one eval set name graded different questions: the set was changed and imported again."""


@dataclass(frozen=True)
class RunComparison:
    run_a: int
    run_b: int
    system_a: str
    system_b: str
    metrics: list[MetricComparison] = field(default_factory=list)
    notes: tuple[str, ...] = ()  # what to check before trusting the pairing

    @property
    def regressions(self) -> list[MetricComparison]:
        return [metric for metric in self.metrics if metric.regressed]


def compare_runs(db: Database, run_a: int, run_b: int, system_a: Optional[str] = None,
                 system_b: Optional[str] = None) -> RunComparison:
    """Run B against run A, on one system of each (by default the system both ran, or each run's only one)."""
    a, b = get_run(db, run_a), get_run(db, run_b)
    notes = _same_questions(a, b)
    system_a, system_b = _systems(a, b, system_a, system_b)
    scores_a, scores_b = _scores(db, a.id, system_a), _scores(db, b.id, system_b)
    metrics = [_compare_metric(metric, scores_a[metric], scores_b[metric])
               for metric in sorted(scores_a.keys() & scores_b.keys()) if _grades_answers(metric)]
    return RunComparison(a.id, b.id, system_a, system_b, with_holm([m for m in metrics if m is not None]), notes)


def _grades_answers(metric: str) -> bool:
    """A measure of the judge (its spread) is no quality of the systems: runs are not compared, nor gated, on it."""
    info = CATALOG.get(metric)
    return info is None or not info.about_the_judge


def _same_questions(a: EvalRun, b: EvalRun) -> tuple[str, ...]:
    """Refuses runs of different sets, or of one set name whose recorded contents differ; returns a note
    per run whose content was not recorded (a run older than the hashes)."""
    if a.eval_set != b.eval_set:
        raise InvalidInputError(f"Runs {a.id} and {b.id} graded different eval sets ({a.eval_set}, {b.eval_set}): "
                                "only runs of one set compare question by question.")
    if a.eval_set_sha256 and b.eval_set_sha256 and a.eval_set_sha256 != b.eval_set_sha256:
        raise DifferentContentError(
            f"Runs {a.id} and {b.id} graded different contents of eval set {a.eval_set!r}: run {a.id} the set "
            f"imported as id {a.eval_set_id} (sha256 {a.eval_set_sha256[:12]}), run {b.id} the one imported as id "
            f"{b.eval_set_id} (sha256 {b.eval_set_sha256[:12]}). The file changed and was imported again under "
            "the same name, so its questions do not pair: compare runs of one content only.")
    if a.id == b.id:
        return ()
    return tuple(f"The eval set's content is not recorded for run {run.id}: check it is the same."
                 for run in (a, b) if run.eval_set_sha256 is None)


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
    with db.session(immediate=False) as session:
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
