"""Eval runs: an eval set asked of several systems, every answer graded and kept.

`submit_eval` checks everything a run needs, makes the run row and queues an
"eval" job (`core.evaluation.job`), so a run survives the browser closing. The
job records each batch's answers and scores in one transaction, so a resumed
run never redoes an answered item; `summarise` aggregates the scores in SQL.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Optional, Sequence

from sqlalchemy import func
from sqlmodel import col, select

from core.access import Actor, Role, require
from core.errors import InvalidInputError, NotFoundError
from core.evaluation.catalog import (CATALOG, JUDGE_CORRECTNESS, JUDGE_SPREAD, METRICS, UNSTABLE_SPREAD, Needs,
                                     default_metrics, item_needs)
from core.evaluation.judge import MAX_REPEATS
from core.evaluation.sets import eval_items, get_eval_set
from core.evaluation.stats import Estimate, bootstrap_mean, latency_percentiles, wilson_mean
from core.git import run_git
from core.llm.base import GenerationOptions
from core.llm.spec import parse_spec
from core.project import PROJECT_ROOT
from core.store import Database
from core.store.tables import EvalItem, EvalResult, EvalRun, EvalScore, EvalSet, Job, utc_now

SEMANTIC = "semantic_similarity"
_NO_ESTIMATE = {"mean": None, "low": None, "high": None, "n": 0}  # every score of the metric failed
ALL_QUESTIONS = "all_questions"  # a summary's estimate with failed answers as 0; older runs lack it


@dataclass(frozen=True)
class RunOptions:
    max_new_tokens: int = 128
    temperature: float = 0.0
    batch_size: int = 8  # items asked of a system at once (one `generate_batch` call)
    seed: Optional[int] = None  # with temperature > 0: the same seed samples the same answers
    limit: Optional[int] = None  # ask only the set's first `limit` questions: a quick check before a full run
    judge_repeats: int = 1  # the judge grades each answer this many times (core.evaluation.judge.judge_repeatedly)

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1 or self.batch_size < 1:
            raise InvalidInputError("max_new_tokens and batch_size must be at least 1.")
        if self.limit is not None and self.limit < 1:
            raise InvalidInputError("A question limit must be at least 1 (leave it out to ask every question).")
        if not 0 <= self.temperature < float("inf"):  # nan too
            raise InvalidInputError(f"temperature must be a number of 0 or more (0 answers greedily), "
                                    f"not {self.temperature}.")
        if not 1 <= self.judge_repeats <= MAX_REPEATS:
            raise InvalidInputError(f"judge_repeats must be 1 to {MAX_REPEATS} (1: each answer judged once), "
                                    f"not {self.judge_repeats}.")

    @property
    def generation(self) -> GenerationOptions:
        return GenerationOptions(max_new_tokens=self.max_new_tokens, temperature=self.temperature, seed=self.seed)


def submit_eval(db: Database, eval_set: str, systems: Sequence[str], metrics: Optional[Sequence[str]] = None,
                options: RunOptions = RunOptions(), judge: Optional[str] = None,
                decision_session_id: Optional[int] = None, *, actor: Actor) -> EvalRun:
    """Check the run, save it and queue its job; returns the run (its `job_id` set). Without `metrics`, the
    set's `default_metrics`. With a `judge` (a system spec), every answer to an item with a reference is also
    graded by that judge, and the judge's ragas metrics can be asked for. `decision_session_id` links the run
    to the decision session whose experiment it carries out."""
    from core.evaluation.job import EvalJob
    from core.jobs.scheduler import submit

    require(actor, Role.REVIEWER, "start an eval run")
    stored_set = get_eval_set(db, eval_set)
    metrics = default_metrics(eval_items(db, eval_set)) if metrics is None else metrics
    judge = parse_spec(judge).text if judge and judge.strip() else None
    specs = list(dict.fromkeys(parse_spec(system).text for system in systems))
    if not specs:
        raise InvalidInputError("No system to evaluate: give at least one system spec.")
    if not metrics:
        raise InvalidInputError(f"No metric chosen: choose from {', '.join(METRICS)}.")
    if options.judge_repeats > 1 and not judge:
        raise InvalidInputError(f"Judging each answer {options.judge_repeats} times needs a judge: choose one (e.g. "
                                "anthropic:claude-sonnet-4-5), or judge once.")
    _check_metrics(metrics, judge)
    _check_knowledge_bases(db, [*specs, *([judge] if judge else [])])
    with db.session() as session:
        run = EvalRun(eval_set=eval_set, eval_set_id=stored_set.id, eval_set_sha256=stored_set.sha256, systems=specs,
                      metrics=list(metrics) + ([JUDGE_CORRECTNESS] if judge else []), judge=judge,
                      options=asdict(options), git_revision=git_revision(), decision_session_id=decision_session_id,
                      created_by=actor.email)
        session.add(run)
    try:
        job = submit(db, EvalJob.name, {"run_id": run.id},
                     title=f"eval {eval_set}{f' (first {options.limit})' if options.limit else ''} on "
                           f"{len(specs)} system(s): {', '.join(specs)}", created_by=actor.email)
    except BaseException:
        with db.session() as session:  # the run was never started: undone, not deleted by anyone
            session.delete(session.get(EvalRun, run.id))
        raise
    return update_run(db, run.id, job_id=job.id)


def _check_metrics(metrics: Sequence[str], judge: Optional[str]) -> None:
    unknown = [metric for metric in metrics if metric not in METRICS]
    if unknown:
        raise InvalidInputError(f"Unknown metric(s) {', '.join(unknown)}: choose from {', '.join(METRICS)}.")
    needing_judge = [metric for metric in metrics if CATALOG[metric].needs_judge]
    if needing_judge and not judge:
        raise InvalidInputError(f"{', '.join(needing_judge)} need(s) a judge: choose one (e.g. "
                                "anthropic:claude-sonnet-4-5), or leave them out.")


def _check_knowledge_bases(db: Database, specs: Sequence[str]) -> None:
    """Every knowledge base the systems answer from exists, before anything is queued."""
    from core.rag.knowledge import get_knowledge_base

    for spec in map(parse_spec, specs):
        if spec.kb:
            try:
                get_knowledge_base(db, spec.kb)
            except NotFoundError as exc:
                raise NotFoundError(f"{spec.text} answers from a knowledge base that does not exist: {exc}") from None


def git_revision() -> str:
    """The app's revision, `-dirty` with uncommitted changes; "" outside a git checkout."""
    try:
        return run_git(PROJECT_ROOT, "describe", "--always", "--dirty", timeout_s=10).decode().strip()
    except InvalidInputError:
        return ""


def get_run(db: Database, run_id: int) -> EvalRun:
    with db.session(immediate=False) as session:
        run = session.get(EvalRun, run_id)
    if run is None:
        raise NotFoundError(f"No eval run {run_id}: `python -m core eval list` shows them.")
    return run


def run_items(db: Database, run: EvalRun) -> list[EvalItem]:
    """The questions a run asks: its set's, in file order, cut to the run's limit if it has one."""
    return eval_items(db, run.eval_set)[:RunOptions(**run.options).limit]


def list_runs(db: Database, limit: int = 50) -> list[tuple[EvalRun, Optional[Job]]]:
    """The newest runs with their jobs (the job says whether a run is still going)."""
    with db.session(immediate=False) as session:
        rows = session.exec(select(EvalRun, Job).join(Job, isouter=True)
                            .order_by(col(EvalRun.id).desc()).limit(limit)).all()
    return [(run, job) for run, job in rows]


def answered_items(db: Database, run_id: int, system: str) -> set[str]:
    with db.session(immediate=False) as session:
        return set(session.exec(select(EvalResult.item_id).where(EvalResult.run_id == run_id,
                                                                 EvalResult.system == system)).all())


def forget_failed_answers(db: Database, run_id: int) -> int:
    """Remove the run's failed answers (and what scored them), so a resumed run asks those questions again;
    returns how many went."""
    with db.session() as session:
        failed = list(session.exec(select(EvalResult).where(EvalResult.run_id == run_id,
                                                            col(EvalResult.error).is_not(None))))
        for answer in failed:
            for score in session.exec(select(EvalScore).where(EvalScore.result_id == answer.id)):
                session.delete(score)
            session.delete(answer)
    return len(failed)


Score = tuple[Optional[float], Optional[str]]  # (value, reason); a judge failure has no value


def save_answers(db: Database, results: list[EvalResult], scores: list[dict[str, Score]]) -> None:
    """A batch's answers and their scores, in one transaction (a metric that did not apply is absent)."""
    with db.session() as session:
        session.add_all(results)
        session.flush()
        session.add_all(_score_rows(results, scores))


def save_scores(db: Database, results: list[EvalResult], scores: list[dict[str, Score]]) -> None:
    """New scores of answers already stored (a re-score), in one transaction."""
    with db.session() as session:
        session.add_all(_score_rows(results, scores))


def _score_rows(results: list[EvalResult], scores: list[dict[str, Score]]) -> list[EvalScore]:
    return [EvalScore(run_id=result.run_id, result_id=result.id, system=result.system, metric=metric, value=value,
                      reason=reason)
            for result, by_metric in zip(results, scores) for metric, (value, reason) in by_metric.items()]


def submit_rescore(db: Database, run_id: int, metrics: Sequence[str] = (), judge: Optional[str] = None, *,
                   actor: Actor) -> Job:
    """Grade a finished run's stored answers again, with `metrics` and/or another `judge`, without asking
    the systems again: the old scores of those metrics are replaced. Runs as a job."""
    from core.evaluation.job import EvalJob
    from core.jobs.scheduler import submit

    require(actor, Role.REVIEWER, "re-score a run")
    run = check_run_finished(db, run_id)
    judge = parse_spec(judge).text if judge and judge.strip() else None
    _check_metrics(metrics, judge or run.judge)
    rescored = list(dict.fromkeys([*metrics, *([JUDGE_CORRECTNESS] if judge else [])]))
    if not rescored:
        raise InvalidInputError("Nothing to re-score with: give metrics, a judge, or both.")
    replaced = [*rescored, *([JUDGE_SPREAD] if JUDGE_CORRECTNESS in rescored else [])]  # a new judge, a new spread
    with db.session() as session:
        for score in session.exec(select(EvalScore).where(EvalScore.run_id == run_id,
                                                          col(EvalScore.metric).in_(replaced))).all():
            session.delete(score)
    update_run(db, run_id, metrics=list(dict.fromkeys([*run.metrics, *rescored])), judge=judge or run.judge)
    job = submit(db, EvalJob.name, {"run_id": run_id, "rescore": rescored},
                 title=f"re-score eval run {run_id} with {', '.join(rescored)}"
                       + (f" (judge {judge})" if judge else ""),
                 created_by=actor.email)
    update_run(db, run_id, job_id=job.id)
    return job


def check_run_finished(db: Database, run_id: int) -> EvalRun:
    """The run, if no job of it is queued or running (re-scoring or judging waits for it)."""
    from core.jobs import queue

    run = get_run(db, run_id)
    job = queue.get_job(db, run.job_id) if run.job_id else None
    if job is not None and job.status in queue.ACTIVE:
        raise InvalidInputError(f"Run {run_id} is still {job.status}: wait until it has finished.")
    return run


def unscored(db: Database, run_id: int, metrics: Sequence[str]) -> list[EvalResult]:
    """The run's answers (not failures) with no score yet for any of `metrics`."""
    with db.session(immediate=False) as session:
        scored = select(EvalScore.result_id).where(EvalScore.run_id == run_id, col(EvalScore.metric).in_(metrics))
        return list(session.exec(select(EvalResult).where(EvalResult.run_id == run_id, col(EvalResult.error).is_(None),
                                                          col(EvalResult.id).not_in(scored))
                                 .order_by(EvalResult.id)).all())


def results(db: Database, run_id: int) -> list[EvalResult]:
    with db.session(immediate=False) as session:
        return list(session.exec(select(EvalResult).where(EvalResult.run_id == run_id)
                                 .order_by(EvalResult.system, EvalResult.position)).all())


def summarise(db: Database, run_id: int) -> dict[str, Any]:
    """Per system: each metric's mean with its 95% interval (`metric_estimate`) over the answered questions,
    and under ALL_QUESTIONS over every question it applies to, a failed answer scoring 0; answers and
    failures, latency percentiles (what the asker waited, the answer's share of its batch, and the retrieval
    part for RAG systems), cost; where the judge graded each answer more than once, `unstable_judgements`:
    the answers whose grades lay UNSTABLE_SPREAD or more apart."""
    with db.session(immediate=False) as session:
        scores = session.exec(select(EvalScore.system, EvalScore.metric, EvalScore.value)
                              .where(EvalScore.run_id == run_id).order_by(EvalScore.id)).all()
        answers = session.exec(select(EvalResult.system, func.count(), func.count(EvalResult.error),
                                      func.sum(EvalResult.cost_usd))
                               .where(EvalResult.run_id == run_id).group_by(EvalResult.system)).all()
        latencies = session.exec(select(EvalResult.system, EvalResult.latency_ms, EvalResult.batch_share_ms,
                                        EvalResult.retrieval_ms)
                                 .where(EvalResult.run_id == run_id, col(EvalResult.error).is_(None))).all()
    summary: dict[str, Any] = {}
    for system, count, failed, cost in answers:
        answered = count - failed
        waited = [w for s, w, _, _ in latencies if s == system]
        shares = [share for s, _, share, _ in latencies if s == system]
        retrieval = [r for s, _, _, r in latencies if s == system and r is not None]
        summary[system] = {
            "answers": count, "failed": failed, "metrics": {},
            "latency_ms": latency_percentiles(waited) if waited else {},
            "batch_share_ms": latency_percentiles(shares) if shares else {},
            "retrieval_ms": latency_percentiles(retrieval) if retrieval else {},
            "cost_per_1k_usd": (cost or 0.0) / answered * 1000 if answered else None,
        }
        spreads = [value for s, metric, value in scores if s == system and metric == JUDGE_SPREAD]
        if spreads:
            summary[system]["unstable_judgements"] = sum(v is not None and v >= UNSTABLE_SPREAD for v in spreads)
    run = get_run(db, run_id)
    for (system, metric), estimates in _metric_summaries(run, scores, _failed_items(db, run)).items():
        summary[system]["metrics"][metric] = estimates
    return summary


def _metric_summaries(run: EvalRun, scores: Sequence[tuple[str, str, Optional[float]]],
                      failed_items: dict[str, list[EvalItem]]) -> dict[tuple[str, str], dict[str, Any]]:
    """Per (system, metric) with a score or a failed answer that counts: `_metric_summary`."""
    by_key: dict[tuple[str, str], list[Optional[float]]] = {}
    for system, metric, value in scores:
        by_key.setdefault((system, metric), []).append(value)
    summaries = {}
    for system, metric in dict.fromkeys([*by_key, *((s, m) for s in failed_items for m in run.metrics)]):
        scored = (system, metric) in by_key
        zeros = sum(_failure_counts(metric, item, scored) for item in failed_items.get(system, []))
        if scored or zeros:
            summaries[system, metric] = _metric_summary(metric, by_key.get((system, metric), []), zeros)
    return summaries


def _failed_items(db: Database, run: EvalRun) -> dict[str, list[EvalItem]]:
    """Per system, the questions it failed to answer (none where the run's eval set was removed since)."""
    with db.session(immediate=False) as session:
        rows = session.exec(select(EvalResult.system, EvalItem)
                            .join(EvalItem, EvalItem.item_id == EvalResult.item_id).join(EvalSet)
                            .where(EvalResult.run_id == run.id, col(EvalResult.error).is_not(None),
                                   EvalSet.name == run.eval_set)).all()
    failed: dict[str, list[EvalItem]] = {}
    for system, item in rows:
        failed.setdefault(system, []).append(item)
    return failed


def _failure_counts(metric: str, item: EvalItem, scored: bool) -> bool:
    """Whether a failed answer to `item` scores 0 on `metric`: the metric counts failures as 0, the item has
    what the metric needs, and for a RAG-only metric the system is one it scored (a system that retrieves)."""
    info = CATALOG.get(metric)
    if info is not None and not info.failure_scores_zero:
        return False
    needs = info.needs if info is not None else frozenset()
    return needs - {Needs.RETRIEVAL} <= item_needs(item) and (Needs.RETRIEVAL not in needs or scored)


def _metric_summary(metric: str, values: Sequence[Optional[float]], failed_answers: int) -> dict[str, Any]:
    """The estimate over answered questions, the number a judge could not grade (`failed`), and the estimate
    over all questions with each of `failed_answers` scoring 0; a grade the judge could not give is in neither."""
    graded = [v for v in values if v is not None]
    with_failures = graded + [0.0] * failed_answers
    return {**_estimate(metric, graded), "failed": len(values) - len(graded),
            ALL_QUESTIONS: _estimate(metric, with_failures)}


def _estimate(metric: str, values: Sequence[float]) -> dict[str, Any]:
    return metric_estimate(metric, values).as_dict() if values else _NO_ESTIMATE


def metric_estimate(metric: str, values: Sequence[float]) -> Estimate:
    """The mean with the interval the metric's table entry calls for: Wilson's for pass/fail, a bootstrap
    for graded scores and for a name the table lacks (an older run's)."""
    info = CATALOG.get(metric)
    return wilson_mean(values) if info is not None and info.pass_fail else bootstrap_mean(values)


def finish_run(db: Database, run_id: int, system_configs: dict[str, Any]) -> EvalRun:
    return update_run(db, run_id, summary=summarise(db, run_id), system_configs=system_configs, finished_at=utc_now())


def update_run(db: Database, run_id: int, **fields) -> EvalRun:
    with db.session() as session:
        run = session.get(EvalRun, run_id)
        for name, value in fields.items():
            setattr(run, name, value)
        session.add(run)
    return run
