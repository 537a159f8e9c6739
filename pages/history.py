"""History: eval runs over time, training runs, baselines, and run-to-run comparisons."""

from __future__ import annotations

from datetime import datetime, time, timezone

import streamlit as st

from core.evaluation.runs import get_run
from core.history.baselines import baseline_of, regressions, set_baseline
from core.history.compare import compare_runs
from core.history.views import (HistoryFilter, cost_chart, history_rows, history_version, latency_chart, metric_chart,
                                metrics_in, training_chart, training_rows)
from ui.common import database, ensure_router, flash, reported_errors, show_flash

ensure_router()
st.title("History")
st.caption("Every finished eval run, per eval set and system. Charts read each run's stored summary; hover a "
           "point for its run, select points to compare them.")
show_flash()


@st.cache_data(max_entries=32, show_spinner=False)
def cached_rows(location: str, version: tuple, where: HistoryFilter) -> list[dict]:
    """Re-read only when the store changed (`version`), shared by every session of this app."""
    return history_rows(database(), where)


@st.cache_data(max_entries=8, show_spinner=False)
def cached_training(location: str, version: tuple) -> list[dict]:
    return training_rows(database())


def filters(all_rows: list[dict]) -> HistoryFilter:
    left, middle, right = st.columns(3)
    eval_sets = left.multiselect("Eval sets", sorted({r["eval_set"] for r in all_rows}), key="hist_sets")
    systems = middle.multiselect("Systems", sorted({r["system"] for r in all_rows}), key="hist_systems")
    days = right.date_input("Dates", value=(), key="hist_dates")
    since = until = None
    if len(days) == 2:
        since = datetime.combine(days[0], time.min, timezone.utc)
        until = datetime.combine(days[1], time.max, timezone.utc)
    return HistoryFilter(tuple(eval_sets), tuple(systems), since, until)


def charts(rows: list[dict]) -> list[int]:
    """The charts; returns the runs whose points were selected."""
    metrics = metrics_in(rows)
    metric = st.selectbox("Metric", metrics, index=metrics.index("token_f1") if "token_f1" in metrics else 0,
                          key="hist_metric") if metrics else None
    selected: list[int] = []
    if metric:
        event = st.plotly_chart(metric_chart(rows, metric), on_select="rerun", selection_mode="points",
                                key="hist_metric_chart")
        selected = sorted({point["customdata"] for point in event.selection.points if "customdata" in point})
    left, right = st.columns(2)
    left.plotly_chart(latency_chart(rows), key="hist_latency")
    right.plotly_chart(cost_chart(rows), key="hist_cost")
    return selected


def runs_table(rows: list[dict]) -> None:
    st.subheader("Runs")
    st.table([{"run": r["run"], "eval set": r["eval_set"], "system": r["system"],
               "when": r["created_at"].strftime("%Y-%m-%d %H:%M"), "baseline": "yes" if r["baseline"] else "",
               "answered": r["answers"] - r["failed"], "failed": r["failed"]} for r in rows[-50:][::-1]],
             hide_index=True)


def baseline_section(db, run_ids: list[int]) -> None:
    run_id = st.selectbox("Run", run_ids[::-1], key="hist_baseline_run")
    run = get_run(db, run_id)
    baseline = baseline_of(db, run.eval_set)
    st.caption(f"Baseline of {run.eval_set}: " + (f"run {baseline.id}" if baseline else "none yet"))
    if baseline is None or baseline.id != run.id:
        if st.button(f"Make run {run.id} the baseline of {run.eval_set}", key="hist_make_baseline"):
            set_baseline(db, run.id)
            flash(f"Run {run.id} is now the baseline of {run.eval_set}.")
    for system, metrics in regressions(db, run).items():
        st.error(f"Run {run.id} regressed against the baseline on {system}: "
                 + ", ".join(f"{m.metric} {m.difference.mean:+.3f} [{m.difference.low:+.3f}, {m.difference.high:+.3f}]"
                             for m in metrics))


def compare_section(db, run_ids: list[int], selected: list[int]) -> None:
    st.subheader("Compare runs")
    chosen = st.multiselect("Runs (the first is the reference)", run_ids[::-1], default=selected[:4],
                            key="hist_compare")
    for other in chosen[1:]:
        comparison = compare_runs(db, chosen[0], other)
        st.markdown(f"**Run {other}** (`{comparison.system_b}`) against **run {chosen[0]}** (`{comparison.system_a}`)")
        st.table([{"metric": m.metric, "questions": m.questions, "A": round(m.mean_a, 3), "B": round(m.mean_b, 3),
                   "B - A [95% CI]": f"{m.difference.mean:+.3f} [{m.difference.low:+.3f}, {m.difference.high:+.3f}]",
                   "test": m.test.name, "p": round(m.test.p_value, 4), "verdict": m.verdict,
                   "better": len(m.better), "worse": len(m.worse)} for m in comparison.metrics], hide_index=True)
        with st.expander("Per question: what got better, what got worse"):
            for m in comparison.metrics:
                if m.better or m.worse:
                    st.markdown(f"`{m.metric}` better: {', '.join(m.better) or '-'} · worse: {', '.join(m.worse) or '-'}")


db = database()
if db is not None:
    with reported_errors():
        version = history_version(db)
        all_rows = cached_rows(db.location, version, HistoryFilter())
        if not all_rows:
            st.info("No finished eval run yet: run one on the Evaluate page (or `python -m core eval run`).")
        else:
            rows = cached_rows(db.location, version, filters(all_rows))
            selected = charts(rows) if rows else []
            if not rows:
                st.info("No run matches these filters.")
            run_ids = sorted({r["run"] for r in all_rows})
            runs_table(rows)
            baseline_section(db, run_ids)
            compare_section(db, run_ids, selected)
        training = cached_training(db.location, version)
        if training:
            st.subheader("Training runs")
            st.plotly_chart(training_chart(training), key="hist_training")
