"""What the Decide, Report and Home pages show: session links, labels, the room's line and session rows."""

from datetime import datetime

from core.checklist import instruments as ins
from core.checklist.room import room_polls
from core.checklist.sessions import SessionSummary
from core.checklist.tradeoffs import OPERATIONS
from core.checklist.verdict import EXPERIMENTS
from core.checklist.views import (FACTOR_LABELS, arrow_hint, experiment_text, factor_options, recent_session_rows,
                                  requested_session, room_summary, split_questions, tradeoff_rows)


def test_a_session_link_names_an_existing_session_or_none():
    assert requested_session("3", [1, 3]) == 3
    for link in (None, "4", "abc", "-1", ""):
        assert requested_session(link, [1, 3]) is None


def test_a_factors_answers_quote_each_side_of_the_table():
    latency = next(f for f in ins.SIX_FACTORS if f.key == "latency")
    assert factor_options(latency) == {"rag": "RAG: Can absorb a 100–500 ms retrieval round-trip",
                                       "fine_tune": "Fine-tuning: Need sub-500 ms with no external dependencies",
                                       "neutral": "Neutral"}


def test_the_hint_says_where_each_answer_leads():
    traceable = next(q for q in ins.NINE_QUESTIONS if q.key == "traceable")
    assert arrow_hint(traceable) == "Yes → RAG only · No → continue"


def test_the_room_line_names_who_answered_what_and_flags_a_split():
    polls = room_polls({"ana": {"factor.latency": "rag"}, "bo": {"factor.latency": "fine_tune"}})
    assert room_summary(polls["factor.latency"], FACTOR_LABELS) == (
        "Room: **RAG side**: ana · **Fine-tuning side**: bo · :orange[split room]")
    assert room_summary(polls["checklist.traceable"], FACTOR_LABELS) == "Room: no answers yet"
    assert split_questions(polls) == ["Latency budget"]


def test_the_experiment_names_its_variants_eval_set_and_test():
    plan = EXPERIMENTS[ins.Recommendation.RAG]
    assert experiment_text(plan) == (f"Build and compare: Base model, RAG  \nEval set: {plan.eval_set}  \n"
                                     f"Confirmed if: {plan.confirms_if}")


def test_a_tradeoff_table_becomes_one_row_per_line_keyed_by_column():
    rows = tradeoff_rows(OPERATIONS)
    assert len(rows) == len(OPERATIONS.rows)
    assert rows[0] == {"Metric": "Time to first value", "RAG only": "Hours (index + prompt)",
                       "Fine-tuning only": "Days to weeks (data prep + train)", "RAG + fine-tuning": "Weeks"}


def test_recent_sessions_are_the_first_ten_with_their_update_to_the_minute():
    sessions = [SessionSummary(n, f"s{n}", n % 3, "RAG only" if n else None, datetime(2025, 1, 2, 3, 4, 59))
                for n in range(12)]
    rows = recent_session_rows(sessions)
    assert len(rows) == 10
    assert rows[1] == {"Session": "s1", "Participants": 1, "Verdict": "RAG only", "Updated (UTC)": "2025-01-02 03:04"}
