"""Every path of the nine-question checklist, the quick list and the factor tally."""

import pytest

from core.checklist.instruments import (
    NINE_QUESTIONS,
    QUICK_STEPS,
    SIX_FACTORS,
    Recommendation as R,
)
from core.checklist.scoring import tally_factors, walk

KEYS = [q.key for q in NINE_QUESTIONS]
# Answers that pass each question without stopping the walk.
CONTINUE = {
    "changes_monthly": "no", "traceable": "no", "style_format": "no", "many_examples": "yes",
    "latency_ok": "yes", "gpu": "yes", "terminology_syntax": "no", "facts_and_style": "no",
}


def checklist(**overrides):
    return walk(NINE_QUESTIONS, {**CONTINUE, **overrides}, "fallback")


@pytest.mark.parametrize(
    ("key", "answer", "expected"),
    [
        ("changes_monthly", "yes", R.RAG),
        ("traceable", "yes", R.RAG),
        ("style_format", "yes", R.FINE_TUNE),
        ("many_examples", "no", R.RAG),
        ("latency_ok", "no", R.FINE_TUNE),
        ("gpu", "no", R.RAG),
        ("terminology_syntax", "yes", R.FINE_TUNE),
        ("facts_and_style", "yes", R.BOTH),
        ("regulated", "yes", R.BOTH),
        ("regulated", "no", R.RAG),
    ],
)
def test_each_arrow_stops_the_walk_at_its_question(key, answer, expected):
    result = checklist(**{key: answer})
    assert result.recommendation == expected
    assert result.trigger.key == key
    assert [s.question.key for s in result.steps] == KEYS[: KEYS.index(key) + 1]
    assert result.reason == result.trigger.why(answer) and result.reason


def test_an_early_stop_ignores_later_answers():
    result = checklist(changes_monthly="yes", style_format="yes", regulated="yes")
    assert result.recommendation == R.RAG
    assert len(result.steps) == 1


def test_fine_tuning_only_needs_questions_one_and_two_not_to_trigger():
    assert checklist(traceable="yes", style_format="yes").recommendation == R.RAG
    assert checklist(style_format="yes").recommendation == R.FINE_TUNE


def test_doubt_before_a_fine_tuning_stop_means_start_with_rag():
    result = checklist(changes_monthly="unsure", style_format="yes")
    assert result.recommendation == R.START_WITH_RAG
    assert result.trigger.key == "style_format"
    assert [q.key for q in result.doubts] == ["changes_monthly"]
    assert "unsure" in result.reason and "start with RAG" in result.reason


def test_doubt_before_a_both_stop_means_start_with_rag():
    result = checklist(gpu="unsure", facts_and_style="yes")
    assert result.recommendation == R.START_WITH_RAG


def test_a_rag_stop_stands_whatever_the_doubts():
    result = checklist(style_format="unsure", many_examples="no")
    assert result.recommendation == R.RAG
    assert [q.key for q in result.doubts] == ["style_format"]


def test_unanswered_questions_are_doubts_too():
    answers = dict(CONTINUE)
    del answers["changes_monthly"]
    result = walk(NINE_QUESTIONS, {**answers, "style_format": "yes"}, "fallback")
    assert result.recommendation == R.START_WITH_RAG


def test_a_walk_that_runs_out_of_questions_starts_with_rag():
    result = checklist(regulated="unsure")
    assert result.recommendation == R.START_WITH_RAG
    assert result.trigger is None
    assert result.reason == "fallback"


def test_an_empty_checklist_starts_with_rag_with_every_question_a_doubt():
    result = walk(NINE_QUESTIONS, {}, "fallback")
    assert result.recommendation == R.START_WITH_RAG
    assert len(result.doubts) == 9 and result.answered == 0


@pytest.mark.parametrize(
    ("answers", "expected", "trigger"),
    [
        ({"changes_often": "yes"}, R.RAG, "changes_often"),
        ({"changes_often": "no", "cited": "yes"}, R.RAG, "cited"),
        ({"changes_often": "no", "cited": "no", "behaviour_wrong": "yes"}, R.FINE_TUNE, "behaviour_wrong"),
        ({"changes_often": "no", "cited": "no", "behaviour_wrong": "no", "few_hundred_examples": "no"},
         R.RAG, "few_hundred_examples"),
        ({"changes_often": "no", "cited": "no", "behaviour_wrong": "no", "few_hundred_examples": "yes"},
         R.START_WITH_RAG, None),
    ],
)
def test_quick_list_stops_at_the_first_strong_signal(answers, expected, trigger):
    result = walk(QUICK_STEPS, answers, "still unsure")
    assert result.recommendation == expected
    assert (result.trigger.key if result.trigger else None) == trigger


def test_factor_tally_counts_each_column_and_leans_to_the_larger():
    answers = {"freshness": "rag", "knowledge_type": "rag", "data_volume": "fine_tune",
               "latency": "neutral", "infrastructure": "rag"}
    tally = tally_factors(SIX_FACTORS, answers)
    assert (tally.rag, tally.fine_tune, tally.neutral, tally.unanswered) == (3, 1, 1, 1)
    assert tally.leaning == R.RAG


def test_factor_tally_leans_to_fine_tuning_and_is_even_on_a_tie():
    ft = tally_factors(SIX_FACTORS, {"freshness": "fine_tune", "latency": "fine_tune", "auditability": "rag"})
    assert ft.leaning == R.FINE_TUNE
    even = tally_factors(SIX_FACTORS, {"freshness": "fine_tune", "auditability": "rag"})
    assert even.leaning is None
    assert tally_factors(SIX_FACTORS, {}).unanswered == 6
