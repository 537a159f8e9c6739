"""What the History page shows: finished eval runs over time, per eval set and system, and the
training runs beside them, as plain rows and plotly figures (no Streamlit here).

Everything reads the runs' stored summaries, aggregated in SQL when each run finished, so the
page's cost grows with the number of runs, not with the answers they hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Mapping, Optional, Sequence

import plotly.graph_objects as go
from sqlalchemy import case, func, text
from sqlmodel import col, select

from core.evaluation.stats import Estimate, bootstrap_mean
from core.history.compare import MetricComparison, RunComparison
from core.store import Database
from core.store.tables import Adapter, EvalItem, EvalResult, EvalRun, EvalScore, EvalSet


@dataclass(frozen=True)
class HistoryFilter:
    eval_sets: tuple[str, ...] = ()  # empty: all
    systems: tuple[str, ...] = ()
    since: Optional[datetime] = None
    until: Optional[datetime] = None
    tag: Optional[str] = None  # only the questions with this tag: metrics recomputed from their scores


def history_version(db: Database) -> tuple:
    """Changes whenever a run finishes, is removed, or a baseline or adapter changes: the cache key of reads."""
    with db.session(immediate=False) as session:
        baseline_ids = func.sum(case((col(EvalRun.is_baseline), EvalRun.id), else_=0))
        runs = session.exec(select(func.count(), func.max(EvalRun.finished_at), baseline_ids)).one()
        adapters = session.exec(select(func.count(), func.max(Adapter.created_at))).one()
    return (*runs, *adapters)


def history_rows(db: Database, where: HistoryFilter = HistoryFilter()) -> list[dict[str, Any]]:
    """One row per finished run and system, oldest first."""
    query = select(EvalRun).where(col(EvalRun.finished_at).is_not(None)).order_by(EvalRun.created_at, EvalRun.id)
    if where.eval_sets:
        query = query.where(col(EvalRun.eval_set).in_(where.eval_sets))
    if where.since:
        query = query.where(EvalRun.created_at >= where.since)
    if where.until:
        query = query.where(EvalRun.created_at <= where.until)
    with db.session(immediate=False) as session:
        runs = session.exec(query).all()
    rows = [_row(run, system, stats) for run in runs for system, stats in run.summary.items()
            if not where.systems or system in where.systems]
    if where.tag:
        tagged = tag_estimates(db, where.tag, [run.id for run in runs])
        rows = [{**row, "metrics": tagged[row["run"], row["system"]]} for row in rows
                if (row["run"], row["system"]) in tagged]
    return rows


def tag_estimates(db: Database, tag: str, run_ids: Sequence[int]) -> dict[tuple[int, str], dict[str, dict]]:
    """{(run, system): {metric: estimate}} over the questions tagged `tag`, selected in SQL."""
    if not run_ids:
        return {}
    tagged_items = (select(EvalItem.item_id, EvalSet.name).join(EvalSet, col(EvalSet.id) == EvalItem.set_id)
                    .where(text(f"EXISTS (SELECT 1 FROM {db.json_elements('eval_items.tags')} "
                                "WHERE element.value = :tag)"))
                    .subquery())
    query = (select(EvalScore.run_id, EvalScore.system, EvalScore.metric, EvalScore.value)
             .join(EvalResult, col(EvalResult.id) == EvalScore.result_id)
             .join(EvalRun, col(EvalRun.id) == EvalScore.run_id)
             .join(tagged_items, (tagged_items.c.item_id == EvalResult.item_id)
                   & (tagged_items.c.name == EvalRun.eval_set))
             .where(col(EvalScore.run_id).in_(run_ids), col(EvalScore.value).is_not(None))
             .params(tag=tag))
    values: dict[tuple[int, str], dict[str, list[float]]] = {}
    with db.session(immediate=False) as session:
        for run_id, system, metric, value in session.exec(query).all():
            values.setdefault((run_id, system), {}).setdefault(metric, []).append(value)
    return {key: {metric: {**bootstrap_mean(v).as_dict(), "failed": 0} for metric, v in by_metric.items()}
            for key, by_metric in values.items()}


def tags_in(db: Database) -> list[str]:
    """Every tag an eval item carries."""
    with db.session(immediate=False) as session:
        tags = db.json_elements("eval_items.tags")
        rows = session.execute(text(f"SELECT DISTINCT element.value FROM eval_items, {tags}"))
        return sorted(row[0] for row in rows)


def _row(run: EvalRun, system: str, stats: dict[str, Any]) -> dict[str, Any]:
    waited, retrieval = stats.get("latency_ms") or {}, stats.get("retrieval_ms") or {}
    return {"run": run.id, "eval_set": run.eval_set, "system": system, "created_at": run.created_at,
            "baseline": run.is_baseline, "answers": stats["answers"], "failed": stats["failed"],
            "metrics": stats["metrics"], "cost_per_1k_usd": stats.get("cost_per_1k_usd"),
            **{f"{kind}_p{q}_s": (values[f"p{q}"] / 1000 if values else None)
               for kind, values in (("latency", waited), ("retrieval", retrieval)) for q in (50, 99)}}


def distinct(rows: Sequence[dict[str, Any]], column: str) -> list[Any]:
    """The values `column` takes in `rows`, each once, sorted: the choices of a filter."""
    return sorted({row[column] for row in rows})


def day_bounds(days: Sequence[date]) -> tuple[Optional[datetime], Optional[datetime]]:
    """The UTC instants from the start of the first day to the end of the last; none until both are picked."""
    if len(days) != 2:
        return None, None
    return datetime.combine(days[0], time.min, timezone.utc), datetime.combine(days[1], time.max, timezone.utc)


def preferred_index(options: Sequence[str], preferred: str) -> int:
    """Where `preferred` sits among `options`, so a selectbox starts on it; the first when it is not there."""
    return options.index(preferred) if preferred in options else 0


def selected_runs(points: Sequence[Mapping[str, Any]]) -> list[int]:
    """The runs of the points selected on a metric chart (each point carries its run as customdata)."""
    return sorted({point["customdata"] for point in points if "customdata" in point})


def runs_table_rows(rows: Sequence[dict[str, Any]], limit: int = 50) -> list[dict[str, Any]]:
    """The latest `limit` runs and systems, newest first, with how many answers each got and lost."""
    return [{"run": r["run"], "eval set": r["eval_set"], "system": r["system"],
             "when": r["created_at"].strftime("%Y-%m-%d %H:%M"), "baseline": "yes" if r["baseline"] else "",
             "answered": r["answers"] - r["failed"], "failed": r["failed"]} for r in rows[-limit:][::-1]]


def difference_text(difference: Estimate) -> str:
    """"+0.120 [+0.050, +0.190]": a difference and its 95% interval, signed."""
    return f"{difference.mean:+.3f} [{difference.low:+.3f}, {difference.high:+.3f}]"


def regression_message(run_id: int, system: str, regressed: Sequence[MetricComparison]) -> str:
    return (f"Run {run_id} regressed against the baseline on {system}: "
            + ", ".join(f"{m.metric} {difference_text(m.difference)}" for m in regressed))


def comparison_title(comparison: RunComparison) -> str:
    return (f"**Run {comparison.run_b}** (`{comparison.system_b}`) against **run {comparison.run_a}** "
            f"(`{comparison.system_a}`)")


def comparison_rows(comparison: RunComparison) -> list[dict[str, Any]]:
    """One row per metric: both means, the difference with its interval, the paired test (its own p and the
    Holm-adjusted one the verdict rests on) and its verdict."""
    return [{"metric": m.metric, "questions": m.questions, "A": round(m.mean_a, 3), "B": round(m.mean_b, 3),
             "B - A [95% CI]": difference_text(m.difference), "test": m.test.name, "p": round(m.test.p_value, 4),
             "p (Holm)": round(m.p_value, 4), "verdict": m.verdict, "better": len(m.better), "worse": len(m.worse)}
            for m in comparison.metrics]


def question_changes(comparison: RunComparison) -> list[str]:
    """Per metric that moved: the questions that got better and those that got worse."""
    return [f"`{m.metric}` better: {', '.join(m.better) or '-'} · worse: {', '.join(m.worse) or '-'}"
            for m in comparison.metrics if m.better or m.worse]


def metrics_in(rows: Sequence[dict[str, Any]]) -> list[str]:
    return sorted({metric for row in rows for metric, estimate in row["metrics"].items() if estimate["mean"] is not None})


def _series(rows: Sequence[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    series: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        series.setdefault((row["eval_set"], row["system"]), []).append(row)
    return series


def _hover(rows: Sequence[dict[str, Any]]) -> list[str]:
    return [f"run {r['run']}" + (" (baseline)" if r["baseline"] else "") for r in rows]


def metric_chart(rows: Sequence[dict[str, Any]], metric: str) -> go.Figure:
    """The metric's mean per run, with its 95% interval as a band, one line per eval set and system."""
    figure = go.Figure()
    for (eval_set, system), points in _series(rows).items():
        points = [p for p in points if p["metrics"].get(metric, {}).get("mean") is not None]
        if not points:
            continue
        x = [p["created_at"] for p in points]
        estimates = [p["metrics"][metric] for p in points]
        name = f"{eval_set} · {system}"
        figure.add_scatter(x=x + x[::-1], y=[e["high"] for e in estimates] + [e["low"] for e in estimates][::-1],
                           fill="toself", opacity=0.2, line=dict(width=0), hoverinfo="skip", showlegend=False,
                           legendgroup=name)
        figure.add_scatter(x=x, y=[e["mean"] for e in estimates], mode="lines+markers", name=name, legendgroup=name,
                           customdata=[p["run"] for p in points], text=_hover(points),
                           hovertemplate="%{text}<br>%{y:.3f}<extra>" + name + "</extra>")
    return _over_time(_layout(figure, f"{metric} over time (95% CI)", "mean"), [r["created_at"] for r in rows])


def latency_chart(rows: Sequence[dict[str, Any]]) -> go.Figure:
    """p50 per run and system, retrieval and generation stacked; p99 as a marker above."""
    labels = [f"run {r['run']} · {r['system']}" for r in rows]
    retrieval = [r["retrieval_p50_s"] or 0.0 for r in rows]
    generation = [max((r["latency_p50_s"] or 0.0) - t, 0.0) for r, t in zip(rows, retrieval)]
    figure = go.Figure()
    figure.add_bar(x=labels, y=retrieval, name="retrieval p50")
    figure.add_bar(x=labels, y=generation, name="generation p50")
    figure.add_scatter(x=labels, y=[r["latency_p99_s"] for r in rows], mode="markers", name="p99 (waited)",
                       marker=dict(symbol="line-ew-open", size=18))
    figure.update_layout(barmode="stack")
    return _layout(figure, "Latency per run: p50 (retrieval + generation) and p99", "seconds")


def cost_chart(rows: Sequence[dict[str, Any]]) -> go.Figure:
    figure = go.Figure()
    for (eval_set, system), points in _series(rows).items():
        figure.add_scatter(x=[p["created_at"] for p in points], y=[p["cost_per_1k_usd"] for p in points],
                           mode="lines+markers", name=f"{eval_set} · {system}", text=_hover(points),
                           hovertemplate="%{text}<br>$%{y:.4f}<extra></extra>")
    return _over_time(_layout(figure, "Cost per 1,000 answers", "US dollars"), [r["created_at"] for r in rows])


def training_rows(db: Database) -> list[dict[str, Any]]:
    with db.session(immediate=False) as session:
        adapters = session.exec(select(Adapter).order_by(Adapter.created_at)).all()
    return [{"adapter": a.name, "dataset": a.dataset, "created_at": a.created_at,
             "final_validation_loss": a.final_validation_loss, "train_minutes": a.train_seconds / 60,
             "cost_usd": a.cost_usd, "size_mb": a.size_bytes / 1e6} for a in adapters]


def training_chart(rows: Sequence[dict[str, Any]]) -> go.Figure:
    """Final validation loss and wall time per adapter, oldest first: one category per training job, so one job
    reads as well as many (on a time axis a single job's point is zoomed to a millisecond)."""
    figure = go.Figure()
    adapters = [r["adapter"] for r in rows]
    figure.add_scatter(x=adapters, y=[r["final_validation_loss"] for r in rows], mode="lines+markers",
                       name="final validation loss",
                       text=[f"{r['dataset']}, {r['created_at']:%Y-%m-%d %H:%M}" for r in rows])
    figure.add_bar(x=adapters, y=[r["train_minutes"] for r in rows], name="wall time (min)", yaxis="y2", opacity=0.4,
                   text=[f"${r['cost_usd']:.4f}" for r in rows])
    figure.update_layout(xaxis=dict(type="category", title="adapter"),
                         yaxis2=dict(overlaying="y", side="right", title="minutes"))
    return _layout(figure, "Training runs: final validation loss, wall time and cost", "loss")


def _over_time(figure: go.Figure, instants: Sequence[datetime]) -> go.Figure:
    """With every point at one instant, show the day around it: plotly would zoom the axis to a millisecond."""
    if len(set(instants)) == 1:
        instant = instants[0]
        figure.update_xaxes(range=[instant - timedelta(hours=12), instant + timedelta(hours=12)])
    return figure


def _layout(figure: go.Figure, title: str, y_title: str) -> go.Figure:
    figure.update_layout(title=title, yaxis_title=y_title, height=360, margin=dict(l=10, r=10, t=40, b=10),
                         legend=dict(orientation="h"), hovermode="closest")
    return figure


def freshness_rows(db: Database, before: str, after: str, metric: str) -> list[dict[str, Any]]:
    """Each variant's `metric` on the eval set from before the docs changed and the one from after,
    from its latest run on each: RAG re-indexed follows the facts, an adapter trained on old docs does not."""
    from core.history.report import finished_runs, latest_variants

    estimates: dict[str, dict[str, Any]] = {}
    for when, eval_set in (("before", before), ("after", after)):
        for variant in latest_variants(finished_runs(db, eval_set)):
            estimate = variant.stats["metrics"].get(metric)
            if estimate and estimate["mean"] is not None:
                estimates.setdefault(f"{variant.label} · {variant.system}", {})[when] = estimate
    return [{"variant": name, "before": by_when.get("before"), "after": by_when.get("after")}
            for name, by_when in estimates.items()]


def freshness_chart(rows: Sequence[dict[str, Any]], metric: str, before: str, after: str) -> go.Figure:
    figure = go.Figure()
    for when, eval_set in (("before", before), ("after", after)):
        points = [(row["variant"], row[when]) for row in rows if row[when]]
        figure.add_bar(name=f"{when}: {eval_set}", x=[name for name, _ in points], y=[e["mean"] for _, e in points],
                       error_y=dict(type="data", symmetric=False, array=[e["high"] - e["mean"] for _, e in points],
                                    arrayminus=[e["mean"] - e["low"] for _, e in points]))
    figure.update_layout(barmode="group")
    return _layout(figure, f"Freshness: {metric} before and after the docs changed", "mean (95% CI)")
