"""What the Evaluate page shows of a run: the results table, the judge's calibration and its unstable grades,
the metric bars, one question's answers. Plain rows and plotly figures, computed from the store (no Streamlit
here); the CLI prints the same lines."""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import plotly.graph_objects as go
from sqlmodel import col, select

from core.evaluation.catalog import CATALOG, JUDGE_SPREAD, UNSTABLE_SPREAD
from core.evaluation.labels import run_labels
from core.evaluation.review import Disagreement, QueuedAnswer, QueueProgress, ReviewStatus
from core.evaluation.runs import ALL_QUESTIONS, results, run_items
from core.evaluation.stats import Estimate
from core.store import Database
from core.store.tables import EvalItem, EvalResult, EvalRun, EvalScore, EvalSet, Job


HUMAN_COLUMN = "human (reviewers' verdicts)"
UNSTABLE_COLUMN = f"unstable judgements (spread >= {UNSTABLE_SPREAD})"


def summary_rows(run: EvalRun, human: Optional[Mapping[str, Estimate]] = None) -> list[dict[str, Any]]:
    """One row per system: answers, each metric's mean with its 95% interval over the answered questions and,
    where any system failed some, over all questions (failures as 0), the answers the judge graded unstably
    where it graded more than once, the reviewers' verdicts where there are any (`human`), latency, cost."""
    any_failed = any(stats["failed"] for stats in run.summary.values())
    rows = []
    for system, stats in run.summary.items():
        row: dict[str, Any] = {"system": system, "answered": stats["answers"] - stats["failed"],
                               "failed": stats["failed"]}
        for metric, estimate in sorted(stats["metrics"].items()):
            row[metric] = format_estimate(estimate)
            if any_failed and _failure_scores_zero(metric):
                row[f"{metric} (failures as 0)"] = format_all_questions(estimate)
        if "unstable_judgements" in stats:
            row[UNSTABLE_COLUMN] = stats["unstable_judgements"]
        if human:
            row[HUMAN_COLUMN] = format_estimate(human[system].as_dict()) if system in human else "-"
        latency = stats["latency_ms"]
        row["p50 s (waited)"] = round(latency["p50"] / 1000, 2) if latency else None
        row["p99 s (waited)"] = round(latency["p99"] / 1000, 2) if latency else None
        share = stats["batch_share_ms"]
        row["p50 s (batch share)"] = round(share["p50"] / 1000, 2) if share else None
        cost = stats["cost_per_1k_usd"]
        row["$ per 1k answers"] = round(cost, 4) if cost is not None else None
        rows.append(row)
    return rows


def _failure_scores_zero(metric: str) -> bool:
    return metric not in CATALOG or CATALOG[metric].failure_scores_zero


def _about_the_judge(metric: str) -> bool:
    return metric in CATALOG and CATALOG[metric].about_the_judge


def format_estimate(estimate: dict[str, Any]) -> str:
    """"mean [low, high]", and how many answers the judge could not grade."""
    mean, low, high = estimate["mean"], estimate.get("low"), estimate.get("high")
    text = "-" if mean is None else f"{mean:.3f} [{low:.3f}, {high:.3f}]"
    return text + (f" ({estimate['failed']} not graded)" if estimate.get("failed") else "")


def format_all_questions(estimate: dict[str, Any]) -> str:
    """The mean over all questions, failed answers scoring 0; "-" for a run summarised before it was kept."""
    return format_estimate(estimate[ALL_QUESTIONS]) if ALL_QUESTIONS in estimate else "-"


def metric_bars(run: EvalRun) -> go.Figure:
    """Each metric's mean per system, with its 95% bootstrap interval as error bars (measures of the judge
    are in the table, not among the systems' scores)."""
    figure = go.Figure()
    for system, stats in run.summary.items():
        metrics = sorted(m for m, e in stats["metrics"].items() if e["mean"] is not None and not _about_the_judge(m))
        estimates = [stats["metrics"][m] for m in metrics]
        figure.add_bar(name=system, x=metrics, y=[e["mean"] for e in estimates],
                       error_y=dict(type="data", symmetric=False, array=[e["high"] - e["mean"] for e in estimates],
                                    arrayminus=[e["mean"] - e["low"] for e in estimates]))
    figure.update_layout(barmode="group", yaxis=dict(title="mean (95% CI)", range=[0, 1.05]), height=360,
                         title=f"Run {run.id}: {run.eval_set}", margin=dict(l=10, r=10, t=40, b=10),
                         legend=dict(orientation="h"))
    return figure


def question_rows(db: Database, run: EvalRun, item_id: str) -> list[dict[str, Any]]:
    """Every system's answer to one item, with its scores, reviewers' labels, contexts and any error."""
    answers = [a for a in results(db, run.id) if a.item_id == item_id]
    with db.session(immediate=False) as session:
        scores = session.exec(select(EvalScore).where(EvalScore.run_id == run.id,
                                                      EvalScore.result_id.in_([a.id for a in answers]))).all()
    by_result: dict[int, list[EvalScore]] = {}
    for score in scores:
        by_result.setdefault(score.result_id, []).append(score)
    labels: dict[int, list[str]] = {}
    for label in run_labels(db, run.id):
        labels.setdefault(label.result_id, []).append(
            f"{label.reviewer}: {label.label}" + (f" ({label.comment})" if label.comment else ""))
    return [{"id": a.id, "system": a.system, "text": a.text, "error": a.error, "labels": labels.get(a.id, []),
             "scores": {s.metric: s.value for s in by_result.get(a.id, []) if s.value is not None},
             "reasons": {s.metric: s.reason for s in by_result.get(a.id, []) if s.reason},
             "contexts": a.contexts, "latency_ms": a.latency_ms, "output_tokens": a.output_tokens}
            for a in answers]


def unstable_rows(db: Database, run: EvalRun) -> list[dict[str, Any]]:
    """The answers the judge graded UNSTABLE_SPREAD or more apart over its repeats, widest first: where a
    judge score is the luck of the draw, and a human label settles it."""
    with db.session(immediate=False) as session:
        unstable = session.exec(select(EvalResult.item_id, EvalResult.system, EvalScore.value, EvalScore.reason)
                                .join(EvalResult, col(EvalResult.id) == EvalScore.result_id)
                                .where(EvalScore.run_id == run.id, EvalScore.metric == JUDGE_SPREAD,
                                       col(EvalScore.value) >= UNSTABLE_SPREAD)
                                .order_by(col(EvalScore.value).desc(), EvalResult.position, EvalResult.system)).all()
    questions = dict(item_choices(db, run))
    return [{"question id": item_id, "question": questions.get(item_id, ""), "system": system, "spread": spread,
             "grades": grades} for item_id, system, spread, grades in unstable]


def item_choices(db: Database, run: EvalRun) -> list[tuple[str, str]]:
    """(item id, question) of the questions the run asked, in file order."""
    return [(item.item_id, item.question) for item in run_items(db, run)]


def eval_set_rows(sets: Sequence[EvalSet]) -> list[dict[str, Any]]:
    return [{"name": s.name, "questions": s.item_count, "source": s.source, "imported": s.created_at} for s in sets]


def eval_item_rows(items: Sequence[EvalItem]) -> list[dict[str, Any]]:
    return [{"id": i.item_id, "question": i.question, "reference": i.reference_answer, "kind": i.kind,
             "sources": ", ".join(i.relevant_sources), "keywords": ", ".join(i.keywords), "tags": ", ".join(i.tags)}
            for i in items]


def run_choice_label(run: EvalRun, job: Optional[Job]) -> str:
    """"12 · running · ledgerly-v2 · local, local?kb=ledgerly-v2": a run as the run picker lists it."""
    return f"{run.id} · {job.status if job else '-'} · {run.eval_set} · {', '.join(run.systems)}"


def score_line(scores: Mapping[str, float]) -> str:
    return " · ".join(f"{name} {value:.2f}" for name, value in sorted(scores.items()))


def agreement_line(agreement: Mapping[str, Any]) -> str:
    return (f"Judge-human agreement: Cohen's kappa {agreement['kappa']:.2f} ({agreement['agreement']:.0%} the same "
            f"grade, {agreement['pairs']} labelled answers).")


NOT_CALIBRATED = ("Judge not calibrated: no human labels of its judged answers yet, so nobody has checked its "
                  "scores. Label some answers to see how far reviewers agree with it.")


def calibration_line(agreement: Optional[Mapping[str, Any]]) -> str:
    """What to read beside a judge's scores: how far reviewers agree with it (`labels.judge_agreement`), or
    that nobody has checked."""
    return agreement_line(agreement) if agreement else NOT_CALIBRATED


def pairwise_rows(run: EvalRun) -> list[dict[str, Any]]:
    """Each judged pair's outcome, without the per-question verdicts."""
    return [{key: value for key, value in outcome.items() if key != "verdicts"} for outcome in run.pairwise.values()]


def queue_choice_label(queue: QueueProgress) -> str:
    return f"Run {queue.run_id} · {queue.eval_set} · {queue.labelled} of {queue.assigned} labelled"


def queued_answer_label(answer: QueuedAnswer) -> str:
    return f"{answer.position} · {answer.label or 'to label'}"


def answer_choices(db: Database, run: EvalRun) -> list[tuple[int, str]]:
    """(answer id, "q3 · local?kb=docs") of every answer of the run, for assigning one by hand."""
    return [(a.id, f"{a.item_id} · {a.system}") for a in results(db, run.id) if a.error is None]


def alpha_line(status: ReviewStatus) -> str:
    if status.alpha is None:
        return (f"Agreement between reviewers: not defined yet ({status.compared_answers} answers with two or more "
                "labels; it needs some, with more than one grade among them).")
    return (f"Agreement between reviewers: Krippendorff's alpha {status.alpha:.2f} (ordinal; 1 is full agreement, "
            f"0 no better than chance) over {status.compared_answers} answers with two or more labels.")


def human_rows(status: ReviewStatus) -> list[dict[str, Any]]:
    return [{"system": system, "answers with a verdict": estimate.n,
             "mean [95% CI]": format_estimate(estimate.as_dict())} for system, estimate in status.human.items()]


def disagreement_line(disagreement: Disagreement) -> str:
    given = ", ".join(f"{reviewer}: {label}" for reviewer, label in sorted(disagreement.labels.items()))
    settled = f" · settled: **{disagreement.settled}**" if disagreement.settled else ""
    return f"`{disagreement.item_id}` · `{disagreement.system}` · {given}{settled}"
