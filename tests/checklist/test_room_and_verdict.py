"""Aggregation across participants and the combined verdict."""

from core.checklist.instruments import QUESTION_ANSWERS, Recommendation as R
from core.checklist.room import consensus_answers, poll, room_polls
from core.checklist.verdict import EXPERIMENTS, decide


def test_majority_wins_and_the_split_is_visible():
    answers = {"ana": {"checklist.gpu": "yes"}, "bo": {"checklist.gpu": "yes"}, "cy": {"checklist.gpu": "no"}}
    p = poll(answers, "checklist.gpu")
    assert p.consensus == "yes"
    assert p.by_answer == {"yes": ("ana", "bo"), "no": ("cy",)}
    assert p.disagreement


def test_a_tie_is_a_doubt_not_a_coin_toss():
    answers = {"ana": {"checklist.gpu": "yes", "factor.latency": "rag"},
               "bo": {"checklist.gpu": "no", "factor.latency": "fine_tune"}}
    assert poll(answers, "checklist.gpu").consensus == "unsure"
    assert poll(answers, "factor.latency").consensus == "neutral"


def test_missing_answers_are_left_out_of_the_poll():
    answers = {"ana": {"checklist.gpu": "no"}, "bo": {}}
    p = poll(answers, "checklist.gpu")
    assert p.consensus == "no" and p.by_answer == {"no": ("ana",)} and not p.disagreement
    assert poll(answers, "checklist.traceable").consensus is None
    assert "checklist.traceable" not in consensus_answers(answers)


def test_every_question_is_polled():
    assert set(room_polls({})) == set(QUESTION_ANSWERS)


def test_room_verdict_follows_the_consensus_walk():
    answers = {
        "ana": {"checklist.changes_monthly": "yes"},
        "bo": {"checklist.changes_monthly": "yes"},
        "cy": {"checklist.changes_monthly": "no", "checklist.traceable": "yes"},
    }
    verdict = decide(consensus_answers(answers))
    assert verdict.recommendation == R.RAG
    assert verdict.checklist.trigger.key == "changes_monthly"
    assert "question 1" in verdict.reasons[0]


def test_a_split_room_on_a_stopping_question_starts_with_rag():
    answers = {"ana": {"checklist.changes_monthly": "yes"}, "bo": {"checklist.changes_monthly": "no",
               "checklist.traceable": "no", "checklist.style_format": "yes"}}
    verdict = decide(consensus_answers(answers))
    assert verdict.recommendation == R.START_WITH_RAG


def test_verdict_reports_agreement_and_conflict_of_the_other_instruments():
    answers = {
        "framing.gap": "behaviour",
        "checklist.changes_monthly": "yes",
        "factor.freshness": "rag", "factor.auditability": "rag", "factor.latency": "fine_tune",
        "quick.changes_often": "yes",
    }
    reasons = decide(answers).reasons
    assert any(r.startswith("Framing") and "conflicts" in r for r in reasons)
    assert any(r.startswith("Six-factor") and "RAG 2, fine-tuning 1" in r and "agrees" in r for r in reasons)
    assert any(r.startswith("Quick list") and "agrees" in r for r in reasons)


def test_each_verdict_names_its_experiment_and_serialises():
    for answers, expected in [
        ({"checklist.changes_monthly": "yes"}, R.RAG),
        ({"checklist.changes_monthly": "no", "checklist.traceable": "no", "checklist.style_format": "yes"},
         R.FINE_TUNE),
        ({}, R.START_WITH_RAG),
    ]:
        verdict = decide(answers)
        assert verdict.recommendation == expected
        record = verdict.to_record()
        assert record["recommendation"] == expected.value
        assert list(record["experiment"]["variants"]) == list(EXPERIMENTS[expected].variants)
    assert EXPERIMENTS[R.BOTH].variants == ("base", "rag", "fine_tuned", "rag_fine_tuned")
