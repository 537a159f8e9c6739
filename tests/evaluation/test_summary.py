"""A run's summary counts failed answers: beside each mean over the answered questions, the mean over all
questions, a failure scoring 0; summaries stored before that was kept still read."""

from __future__ import annotations

import json

import pytest

from core.access import LOCAL_ADMIN
from core.evaluation.run_commands import describe
from core.evaluation.runs import ALL_QUESTIONS, finish_run, save_answers
from core.evaluation.sets import import_eval_set
from core.evaluation.views import summary_rows
from core.store.tables import EvalResult, EvalRun

QUESTIONS = 5


@pytest.fixture
def failing_run(db) -> EvalRun:
    """Two systems on five questions: `steady` answers all perfectly, `brittle` fails q3 and q4 and answers
    the rest perfectly."""
    import_eval_set(db, "facts", "\n".join(json.dumps({"id": f"q{n}", "question": f"Fact {n}?",
                                                       "reference_answer": f"fact {n}"}) for n in range(QUESTIONS)),
                    "test", actor=LOCAL_ADMIN)
    with db.session() as session:
        run = EvalRun(eval_set="facts", systems=["steady", "brittle"], metrics=["token_f1", "exact_match"])
        session.add(run)
    for system, failed in (("steady", set()), ("brittle", {3, 4})):
        answers = [EvalResult(run_id=run.id, item_id=f"q{n}", position=n, system=system, text=f"fact {n}",
                              latency_ms=100.0, error="HTTP 500" if n in failed else None)
                   for n in range(QUESTIONS)]
        save_answers(db, answers, [{} if n in failed else {"token_f1": (1.0, None), "exact_match": (1.0, None)}
                                   for n in range(QUESTIONS)])
    return finish_run(db, run.id, {})


def test_a_failed_answer_scores_0_in_the_mean_over_all_questions(failing_run):
    brittle = failing_run.summary["brittle"]["metrics"]
    for metric in ("token_f1", "exact_match"):
        assert (brittle[metric]["mean"], brittle[metric]["n"]) == (1.0, 3)
        over_all = brittle[metric][ALL_QUESTIONS]
        assert (over_all["mean"], over_all["n"]) == (pytest.approx(0.6), 5)
        assert over_all["low"] < 0.6 < over_all["high"]
    assert brittle["exact_match"][ALL_QUESTIONS]["high"] < 1.0  # pass/fail: Wilson's interval, not the bootstrap's
    steady = failing_run.summary["steady"]["metrics"]["token_f1"]
    assert steady[ALL_QUESTIONS]["mean"] == steady["mean"] == 1.0


def test_a_system_that_failed_every_question_scores_0_over_all_questions(db, failing_run):
    save_answers(db, [EvalResult(run_id=failing_run.id, item_id=f"q{n}", position=n, system="broken", text="",
                                 latency_ms=1.0, error="no such model") for n in range(QUESTIONS)], [{}] * QUESTIONS)
    broken = finish_run(db, failing_run.id, {}).summary["broken"]["metrics"]["token_f1"]
    assert broken["mean"] is None and (broken[ALL_QUESTIONS]["mean"], broken[ALL_QUESTIONS]["n"]) == (0.0, 5)


def test_the_table_and_the_cli_show_both_means(db, failing_run):
    rows = rows_by_system(failing_run)
    steady, brittle = rows["steady"], rows["brittle"]
    assert brittle["token_f1"].startswith("1.000 [") and brittle["token_f1 (failures as 0)"].startswith("0.600 [")
    assert steady["token_f1 (failures as 0)"].startswith("1.000 [")
    assert "token_f1=1.000 [1.000, 1.000] (all questions 0.600 [" in describe(db, failing_run)


def rows_by_system(run: EvalRun) -> dict[str, dict]:
    return {row["system"]: row for row in summary_rows(run)}


def test_a_summary_stored_before_failures_counted_still_reads(db, failing_run):
    for stats in failing_run.summary.values():
        for estimate in stats["metrics"].values():
            del estimate[ALL_QUESTIONS]
    brittle = rows_by_system(failing_run)["brittle"]
    assert brittle["token_f1"].startswith("1.000 [") and brittle["token_f1 (failures as 0)"] == "-"
    assert "token_f1=1.000 [1.000, 1.000] (all questions -)" in describe(db, failing_run)


def test_without_failures_the_table_has_no_failure_columns(failing_run):
    del failing_run.summary["brittle"]
    [steady] = summary_rows(failing_run)
    assert "token_f1" in steady and not any("failures as 0" in column for column in steady)
