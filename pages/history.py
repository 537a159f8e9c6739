"""History: eval runs over time, training runs, baselines, and run-to-run comparisons."""

from __future__ import annotations

import streamlit as st

from core.evaluation.runs import get_run
from core.history.baselines import baseline_of, check_against_baseline, set_baseline
from core.history.compare import RunComparison, compare_runs, holm_note
from core.history.report import break_even_chart, finished_runs, latest_variants, variant_table
from core.history.views import (HistoryFilter, comparison_rows, comparison_title, cost_chart, day_bounds, distinct,
                                freshness_chart, freshness_rows, history_rows, history_version, latency_chart,
                                metric_chart, metrics_in, preferred_index, question_changes, regression_message,
                                runs_table_rows, selected_runs, tags_in, training_chart, training_rows)
from ui.auth import acting_user
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


def filters(db, all_rows: list[dict]) -> HistoryFilter:
    sets_column, systems_column, tag_column, dates_column = st.columns(4)
    eval_sets = sets_column.multiselect("Eval sets", distinct(all_rows, "eval_set"), key="hist_sets")
    systems = systems_column.multiselect("Systems", distinct(all_rows, "system"), key="hist_systems")
    tag = tag_column.selectbox("Tag", tags_in(db), index=None, key="hist_tag",
                               help="Only the questions with this tag: their scores are aggregated again")
    days = dates_column.date_input("Dates", value=(), key="hist_dates")
    return HistoryFilter(tuple(eval_sets), tuple(systems), *day_bounds(days), tag)


def charts(rows: list[dict]) -> list[int]:
    """The charts; returns the runs whose points were selected."""
    metrics = metrics_in(rows)
    metric = st.selectbox("Metric", metrics, index=preferred_index(metrics, "token_f1"),
                          key="hist_metric") if metrics else None
    selected: list[int] = []
    if metric:
        event = st.plotly_chart(metric_chart(rows, metric), on_select="rerun", selection_mode="points",
                                key="hist_metric_chart")
        selected = selected_runs(event.selection.points)
        for run_id in selected:
            st.page_link("pages/evaluate.py", label=f"Open run {run_id} on Evaluate", icon=":material/fact_check:",
                         query_params={"run": str(run_id)})
    left, right = st.columns(2)
    left.plotly_chart(latency_chart(rows), key="hist_latency")
    right.plotly_chart(cost_chart(rows), key="hist_cost")
    return selected


def runs_table(rows: list[dict]) -> None:
    st.subheader("Runs")
    st.table(runs_table_rows(rows), hide_index=True)


def baseline_section(db, run_ids: list[int]) -> None:
    run_id = st.selectbox("Run", run_ids[::-1], key="hist_baseline_run")
    run = get_run(db, run_id)
    baseline = baseline_of(db, run.eval_set)
    st.caption(f"Baseline of {run.eval_set}: " + (f"run {baseline.id}" if baseline else "none yet"))
    if baseline is None or baseline.id != run.id:
        if st.button(f"Make run {run.id} the baseline of {run.eval_set}", key="hist_make_baseline"):
            set_baseline(db, run.id, acting_user())
            flash(f"Run {run.id} is now the baseline of {run.eval_set}.")
    check = check_against_baseline(db, run)
    for note in check.notes:
        st.warning(note)
    for system, metrics in check.regressions.items():
        st.error(regression_message(run.id, system, metrics))
    if check.tests:
        st.caption(holm_note(check.tests))


def variants_section(db, eval_sets: list[str]) -> None:
    st.subheader("Variants of an eval set")
    st.caption("Each variant's latest run on the set: the seeds' comparison table on your own runs, and when "
               "training up front pays for itself.")
    eval_set = st.selectbox("Eval set", eval_sets, key="hist_variants_set")
    variants = latest_variants(finished_runs(db, eval_set))
    st.table(variant_table(db, variants), hide_index=True)
    st.plotly_chart(break_even_chart(db, variants), key="hist_break_even")


def freshness_section(db, eval_sets: list[str], metrics: list[str]) -> None:
    st.subheader("Freshness: before and after the docs changed")
    before_column, after_column, metric_column = st.columns(3)
    before = before_column.selectbox("Before (old facts)", eval_sets, key="hist_before")
    after = after_column.selectbox("After (new facts)", eval_sets, index=min(1, len(eval_sets) - 1), key="hist_after")
    metric = metric_column.selectbox("Metric", metrics, index=preferred_index(metrics, "keyword_presence"),
                                     key="hist_fresh_metric")
    rows = freshness_rows(db, before, after, metric)
    if rows:
        st.plotly_chart(freshness_chart(rows, metric, before, after), key="hist_freshness")


def compare_section(db, run_ids: list[int], selected: list[int]) -> None:
    st.subheader("Compare runs")
    chosen = st.multiselect("Runs (the first is the reference)", run_ids[::-1], default=selected[:4],
                            key="hist_compare")
    for other in chosen[1:]:
        with reported_errors():  # a refused pair (another set, or changed questions) leaves the others shown
            show_comparison(compare_runs(db, chosen[0], other))


def show_comparison(comparison: RunComparison) -> None:
    st.markdown(comparison_title(comparison))
    for note in comparison.notes:
        st.warning(note)
    st.table(comparison_rows(comparison), hide_index=True)
    st.caption(holm_note(len(comparison.metrics)))
    with st.expander("Per question: what got better, what got worse"):
        for line in question_changes(comparison):
            st.markdown(line)


db = database()
if db is not None:
    with reported_errors():
        version = history_version(db)
        all_rows = cached_rows(db.location, version, HistoryFilter())
        if not all_rows:
            st.info("No finished eval run yet: run one on the Evaluate page (or `python -m core eval run`).")
        else:
            rows = cached_rows(db.location, version, filters(db, all_rows))
            selected = charts(rows) if rows else []
            if not rows:
                st.info("No run matches these filters.")
            run_ids = distinct(all_rows, "run")
            runs_table(rows)
            baseline_section(db, run_ids)
            compare_section(db, run_ids, selected)
            eval_sets = distinct(all_rows, "eval_set")
            variants_section(db, eval_sets)
            freshness_section(db, eval_sets, metrics_in(all_rows))
        training = cached_training(db.location, version)
        if training:
            st.subheader("Training runs")
            st.plotly_chart(training_chart(training), key="hist_training")
