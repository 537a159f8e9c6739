"""History's reads and rows: freshness per variant across two eval sets, the cache key that follows writes,
the filters' choices, the runs table and run-to-run comparisons."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from core.access import LOCAL_ADMIN
from core.evaluation.stats import Estimate
from core.history.baselines import set_baseline
from core.history.compare import MetricComparison, RunComparison
from core.history.stats import PairedTest
from core.history.views import (comparison_rows, comparison_title, cost_chart, day_bounds, distinct, freshness_rows,
                                history_rows, history_version, metric_chart, preferred_index, question_changes,
                                regression_message, runs_table_rows, selected_runs, training_chart)
from tests.history.runs_fixtures import eval_set, stored_systems_run

RAG, TUNED = "local:smollm2?kb=docs-v2", "local:smollm2?adapter=docs-v1"


def test_freshness_puts_each_variant_before_and_after_the_docs_changed(db):
    before, after = eval_set(db, "v1", questions=4), eval_set(db, "v2", questions=4)
    stored_systems_run(db, before, {RAG: {"keyword_presence": [1, 1, 1, 0]}, TUNED: {"keyword_presence": [1, 1, 0, 0]}})
    stored_systems_run(db, after, {RAG: {"keyword_presence": [1, 1, 1, 1]}, TUNED: {"keyword_presence": [0, 0, 0, 0]}})
    rows = {row["variant"]: row for row in freshness_rows(db, before, after, "keyword_presence")}
    assert rows[f"RAG · {RAG}"]["before"]["mean"] == 0.75 and rows[f"RAG · {RAG}"]["after"]["mean"] == 1.0
    assert rows[f"Fine-tuned · {TUNED}"]["after"]["mean"] == 0.0  # the adapter kept the old facts


def test_the_cache_key_changes_with_every_write_the_page_shows(db):
    name = eval_set(db)
    first = history_version(db)
    run = stored_systems_run(db, name, {"local": {"token_f1": [0.5] * 20}})
    second = history_version(db)
    set_baseline(db, run.id, LOCAL_ADMIN)
    assert len({first, second, history_version(db)}) == 3
    assert history_version(db) == history_version(db)  # stable without writes


def test_the_filters_offer_each_value_once_sorted(db):
    first, second = eval_set(db, "b-set", questions=2), eval_set(db, "a-set", questions=2)
    for name in (first, second, first):
        stored_systems_run(db, name, {"rag": {"token_f1": [1, 0]}, "base": {"token_f1": [0, 0]}})
    rows = history_rows(db)
    assert distinct(rows, "eval_set") == ["a-set", "b-set"]
    assert distinct(rows, "system") == ["base", "rag"]
    assert distinct(rows, "run") == [1, 2, 3]


def test_a_day_range_spans_from_the_first_midnight_to_the_last_days_end_in_utc():
    since, until = day_bounds((date(2025, 3, 1), date(2025, 3, 2)))
    assert since == datetime(2025, 3, 1, tzinfo=timezone.utc)
    assert until == datetime(2025, 3, 2, 23, 59, 59, 999999, tzinfo=timezone.utc)
    assert day_bounds(()) == day_bounds((date(2025, 3, 1),)) == (None, None)  # until both days are picked


def test_a_selectbox_starts_on_the_preferred_metric_when_there_is_one():
    assert preferred_index(["exact_match", "token_f1"], "token_f1") == 1
    assert preferred_index(["exact_match"], "token_f1") == 0


def test_selected_points_give_their_runs_once_each():
    points = [{"customdata": 4}, {"x": 1}, {"customdata": 2}, {"customdata": 4}]  # the band's points carry none
    assert selected_runs(points) == [2, 4]


def test_the_runs_table_shows_the_latest_runs_newest_first(db):
    name = eval_set(db, questions=2)
    for _ in range(3):
        stored_systems_run(db, name, {"local": {"token_f1": [1, 0]}})
    set_baseline(db, 2, LOCAL_ADMIN)
    rows = runs_table_rows(history_rows(db), limit=2)
    assert [row["run"] for row in rows] == [3, 2]
    assert rows[1]["baseline"] == "yes" and rows[0]["baseline"] == ""
    assert set(rows[0]) == {"run", "eval set", "system", "when", "baseline", "answered", "failed"}
    assert len(rows[0]["when"]) == len("2025-01-02 03:04")


def metric(name: str, mean: float, low: float, high: float, p_value: float, better=(), worse=()) -> MetricComparison:
    return MetricComparison(metric=name, questions=20, mean_a=0.5, mean_b=0.5 + mean,
                            difference=Estimate(mean, low, high, 20), test=PairedTest("McNemar", p_value),
                            better=better, worse=worse)


def test_a_comparison_row_gives_the_signed_difference_with_its_interval_and_verdict():
    comparison = RunComparison(1, 2, "local", "local?kb=docs",
                               [metric("exact_match", 0.2, 0.1, 0.3, 0.001, better=("q1", "q2")),
                                metric("token_f1", -0.01, -0.05, 0.03, 0.51234)])
    rows = comparison_rows(comparison)
    assert rows[0] == {"metric": "exact_match", "questions": 20, "A": 0.5, "B": 0.7, "B - A [95% CI]":
                       "+0.200 [+0.100, +0.300]", "test": "McNemar", "p": 0.001, "p (Holm)": 0.001,
                       "verdict": "B better", "better": 2, "worse": 0}
    assert rows[1]["p"] == 0.5123 and rows[1]["verdict"] == "not significant"
    assert question_changes(comparison) == ["`exact_match` better: q1, q2 · worse: -"]  # token_f1 moved nowhere
    assert comparison_title(comparison) == "**Run 2** (`local?kb=docs`) against **run 1** (`local`)"


def test_a_regression_names_the_run_the_system_and_each_metric_that_fell():
    regressed = [metric("exact_match", -0.3, -0.4, -0.2, 0.001, worse=("q3",))]
    assert regression_message(7, "local", regressed) == (
        "Run 7 regressed against the baseline on local: exact_match -0.300 [-0.400, -0.200]")


def test_a_single_run_is_charted_over_the_day_around_it_not_a_millisecond(db):
    name = eval_set(db, questions=2)
    stored_systems_run(db, name, {"local": {"token_f1": [1, 0]}})
    rows = history_rows(db)
    when = rows[0]["created_at"]
    for figure in (metric_chart(rows, "token_f1"), cost_chart(rows)):
        assert tuple(figure.layout.xaxis.range) == (when - timedelta(hours=12), when + timedelta(hours=12))
    stored_systems_run(db, name, {"local": {"token_f1": [1, 1]}})
    assert metric_chart(history_rows(db), "token_f1").layout.xaxis.range is None  # two runs: plotly's own range


def test_a_single_training_job_is_one_category_named_after_its_adapter():
    job = {"adapter": "support-lora", "dataset": "faq", "created_at": datetime(2026, 1, 2, 3, 4, tzinfo=timezone.utc),
           "final_validation_loss": 1.2, "train_minutes": 3.5, "cost_usd": 0.01, "size_mb": 2.0}
    figure = training_chart([job])
    assert figure.layout.xaxis.type == "category"
    assert [tuple(trace.x) for trace in figure.data] == [("support-lora",), ("support-lora",)]
    assert figure.data[0].text == ("faq, 2026-01-02 03:04",)
