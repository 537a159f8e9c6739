"""The metric catalog against what reads it: every metric the lab or ragas computes has an entry and
every entry is computed, each lab function applies exactly when its entry says, RAG-only metrics skip
answers without retrieval, pass/fail metrics get Wilson's interval and McNemar's test."""

from __future__ import annotations

import dataclasses

import pytest
from scipy import stats

from core.evaluation import metrics
from core.evaluation.catalog import (CATALOG, HEADLINE_METRICS, JUDGE_CORRECTNESS, OFFLINE_METRICS, RAGAS_METRICS,
                                    MetricInfo, Needs, default_metrics)
from core.evaluation.metrics import Graded
from core.evaluation.sets import EvidenceLines
from core.evaluation.stats import wilson_mean
from core.history.compare import compare_runs
from core.llm.base import Citation, Completion
from core.store.tables import EvalItem
from tests.history.runs_fixtures import eval_set, stored_run

LAB = [name for name, info in CATALOG.items() if info.per_answer is not None]
# What a Graded loses when it lacks each need (no lab metric reads reference contexts).
WITHOUT = {Needs.REFERENCE: {"reference": None}, Needs.KEYWORDS: {"keywords": ()},
           Needs.RETRIEVAL: {"retrieved": None}, Needs.SOURCES: {"relevant_sources": ()},
           Needs.EVIDENCE: {"evidence": ()}}
EVERYTHING = Graded("TemplateSyntaxError at line 40", "TemplateSyntaxError", ("TemplateSyntaxError",),
                    retrieved=(Citation("lexer.py", 31, 60, "...", number=1),), relevant_sources=("lexer.py",),
                    evidence=(EvidenceLines(source="lexer.py", start_line=40, end_line=41),))


def test_every_metric_the_lab_computes_has_an_entry_and_every_lab_entry_is_computed():
    functions = {name for name, value in vars(metrics).items()
                 if callable(value) and getattr(value, "__module__", "") == metrics.__name__
                 and not name.startswith("_") and name not in {"normalise", "Graded"}}
    assert functions == {name for name, info in CATALOG.items() if info.computed_by == "lab"}
    assert all(CATALOG[name].per_answer is getattr(metrics, name) for name in LAB)


def test_every_metric_ragas_computes_has_an_entry_and_every_ragas_entry_is_computed(monkeypatch):
    from core.evaluation.ragas_metrics import _judge_scorers, _offline_scorers
    from core.llm.spec import parse_spec

    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    with_judge = _judge_scorers(parse_spec("anthropic:claude-judge"), embed=lambda texts: None)
    assert set(_offline_scorers()) | set(with_judge) == set(RAGAS_METRICS)
    assert set(with_judge) == {name for name in RAGAS_METRICS if CATALOG[name].needs_judge}
    assert CATALOG[JUDGE_CORRECTNESS].computed_by == "judge" and CATALOG[JUDGE_CORRECTNESS].needs_judge


@pytest.mark.parametrize("name", LAB)
def test_each_lab_function_applies_exactly_when_its_entry_says(name):
    info = CATALOG[name]
    assert info.per_answer(EVERYTHING) is not None
    for need, lacking in WITHOUT.items():
        applies = info.per_answer(dataclasses.replace(EVERYTHING, **lacking)) is not None
        assert applies == (need not in info.needs), f"{name} without {need.value}"


def test_rag_only_metrics_are_not_reported_for_an_answer_without_retrieval():
    from core.evaluation.job import Grader

    item = EvalItem(set_id=0, position=0, item_id="q", question="Which error?", reference_answer="TemplateSyntaxError",
                    keywords=["TemplateSyntaxError"], relevant_sources=["lexer.py"], reference_contexts=["..."],
                    evidence=[{"source": "lexer.py", "start_line": 40, "end_line": 41}])
    offline = [name for name, info in CATALOG.items() if not info.needs_judge and name != "semantic_similarity"]
    plain = Completion("TemplateSyntaxError", 10, 3, 100.0, "m", 0.0)
    rag = dataclasses.replace(plain, contexts=(Citation("lexer.py", 31, 60, "...", number=1),))
    [without, with_retrieval] = Grader(offline).grade([item, item], [plain, rag])
    assert set(without) == {"exact_match", "contains_reference", "keyword_presence", "token_f1", "string_similarity",
                            "bleu", "rouge_l"}
    assert set(with_retrieval) == set(offline)


def test_a_pass_fail_metric_gets_wilsons_interval_in_the_summary_and_a_graded_one_the_bootstrap(db):
    run = stored_run(db, eval_set(db), {"exact_match": [1.0] * 20, "token_f1": [1.0] * 20})
    summary = run.summary["local:smollm2"]["metrics"]
    wilson = stats.binomtest(20, 20).proportion_ci(method="wilson")
    assert (summary["exact_match"]["low"], summary["exact_match"]["high"]) == pytest.approx((wilson.low, 1.0))
    assert (summary["token_f1"]["low"], summary["token_f1"]["high"]) == (1.0, 1.0)


@pytest.mark.parametrize("passes, n", [(0, 5), (7, 20), (19, 20)])
def test_wilsons_interval_is_scipys(passes, n):
    estimate = wilson_mean([1.0] * passes + [0.0] * (n - passes))
    expected = stats.binomtest(passes, n).proportion_ci(method="wilson")
    assert (estimate.mean, estimate.low, estimate.high) == pytest.approx((passes / n, expected.low, expected.high))


def test_the_comparison_chooses_its_test_by_the_entry_and_an_unknown_metric_by_its_values(db):
    name = eval_set(db)
    a = stored_run(db, name, {"exact_match": [1.0] * 20, "token_f1": [1.0] * 20, "legacy_pass": [1.0] * 20,
                              "legacy_score": [0.5] * 20})
    b = stored_run(db, name, {"exact_match": [0.0] * 20, "token_f1": [0.0] * 20, "legacy_pass": [0.0] * 20,
                              "legacy_score": [0.25] * 20})
    tests = {m.metric: m.test.name for m in compare_runs(db, a.id, b.id).metrics}
    # token_f1 is graded even where every score happens to be 0 or 1
    assert tests == {"exact_match": "McNemar", "token_f1": "paired permutation", "legacy_pass": "McNemar",
                     "legacy_score": "paired permutation"}


def test_a_metric_where_lower_is_better_regresses_when_it_rises(db, monkeypatch):
    errors = MetricInfo("error_rate", "share of answers that are wrong", "lab", higher_is_better=False)
    monkeypatch.setitem(CATALOG, "error_rate", errors)
    name = eval_set(db)
    a = stored_run(db, name, {"error_rate": [0.1] * 20})
    b = stored_run(db, name, {"error_rate": [0.1] * 10 + [0.9] * 10})
    [rose] = compare_runs(db, a.id, b.id).metrics
    assert rose.regressed and rose.verdict == "B worse" and len(rose.worse) == 10 and rose.better == ()
    [fell] = compare_runs(db, b.id, a.id).metrics
    assert not fell.regressed and fell.verdict == "B better" and len(fell.better) == 10


def test_the_headline_metrics_and_help_come_from_the_table():
    assert HEADLINE_METRICS == ("judge_correctness", "keyword_presence", "token_f1", "faithfulness")
    assert "pass/fail" in CATALOG["exact_match"].help and "graded" in CATALOG["token_f1"].help
    assert "RAG only: needs retrieved chunks, labelled source files" in CATALOG["recall_at_5"].help
    assert CATALOG["faithfulness"].help.endswith("RAG only: needs retrieved chunks, a judge)")


def references(*answers):
    return [EvalItem(set_id=0, position=n, item_id=f"q{n}", question="?", reference_answer=answer)
            for n, answer in enumerate(answers)]


def test_contains_reference_is_a_default_only_where_references_are_short():
    short = references("45 days", "the Pocket plan", "TemplateSyntaxError", "Sprout costs $10 a month at most", None)
    long = references("Refunds are granted within 45 days of purchase when asked by email.", "45 days",
                      "The Pocket plan includes two seats and unlimited invoices for a monthly fee.")
    assert default_metrics(short) == OFFLINE_METRICS and "contains_reference" in OFFLINE_METRICS
    assert default_metrics(long) == tuple(m for m in OFFLINE_METRICS if m != "contains_reference")
    assert "contains_reference" not in default_metrics(references(None, None))  # no references at all
    assert CATALOG["contains_reference"].pass_fail  # so it gets Wilson's interval and McNemar's test
