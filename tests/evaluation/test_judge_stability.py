"""Judge stability and calibration: a judge asked K times per answer (sampled, K real calls) records the mean
grade and the spread; answers graded far apart are counted and listed; wherever judge scores are shown, so is
the judge's agreement with human labels, or that there is none yet."""

from __future__ import annotations

import json
import re
from typing import Optional

import pytest

from core.access import LOCAL_ADMIN
from core.errors import InvalidInputError
from core.evaluation.catalog import JUDGE_CORRECTNESS, JUDGE_SPREAD, METRICS, UNSTABLE_SPREAD
from core.evaluation.judge import MAX_REPEATS, REPEAT_TEMPERATURE, judge_repeatedly
from core.evaluation.labels import save_label
from core.evaluation.run_commands import describe
from core.evaluation.runs import ALL_QUESTIONS, RunOptions, finish_run, get_run, results, save_answers, submit_eval
from core.evaluation.sets import get_eval_set, import_eval_set
from core.evaluation.views import (NOT_CALIBRATED, UNSTABLE_COLUMN, calibration_line, metric_bars, summary_rows,
                                   unstable_rows)
from core.history.compare import compare_runs
from core.llm.anthropic_backend import AnthropicBackend
from core.store.tables import EvalResult, EvalRun, EvalScore
from tests.history.runs_fixtures import eval_set, stored_run
from tests.llm.fake_servers import FakeServer, anthropic_message

SYSTEM = "local:smollm2"


def grade(score: int):
    return anthropic_message(json.dumps({"score": score, "reason": f"graded {score}"}))


def judge_at(server) -> AnthropicBackend:
    return AnthropicBackend("claude-sonnet-4-5", "sk-test", base_url=server.url, max_retries=0)


def test_k_repeats_are_k_sampled_calls_whose_mean_is_the_grade_and_whose_range_is_the_spread():
    with FakeServer(grade(5), grade(3), grade(4)) as server:
        judgement = judge_repeatedly(judge_at(server), "Team price?", "$9.", "It is $9.", repeats=3)
    assert len(server.requests) == 3
    assert all(request["json"]["temperature"] == REPEAT_TEMPERATURE for request in server.requests)
    assert judgement.value == pytest.approx((1.0 + 0.5 + 0.75) / 3) and judgement.spread == 0.5
    assert judgement.spread_reason == "grades 5, 3, 4 of 5"
    assert judgement.reason == "5/5: graded 5 | 3/5: graded 3 | 4/5: graded 4"


def test_one_grade_is_greedy_and_has_no_spread():
    with FakeServer(grade(4)) as server:
        judgement = judge_repeatedly(judge_at(server), "q", "r", "a")
    assert len(server.requests) == 1 and "temperature" not in server.requests[0]["json"]  # 0: the API's greedy
    assert (judgement.value, judgement.spread, judgement.reason) == (0.75, None, "4/5: graded 4")


def test_a_repeat_the_judge_fails_is_left_out_of_the_mean_and_the_spread_and_said():
    with FakeServer(grade(2), anthropic_message("no idea"), anthropic_message("no idea"),
                    anthropic_message("no idea"), grade(2)) as server:
        judgement = judge_repeatedly(judge_at(server), "q", "r", "a", repeats=3)
    assert len(server.requests) == 5  # the failed repeat was asked its three attempts
    assert (judgement.value, judgement.spread) == (0.25, 0.0)
    assert judgement.spread_reason == "grades 2, 2 of 5 (1 judge failure(s))"
    with FakeServer(grade(2), anthropic_message("no idea")) as server:
        judgement = judge_repeatedly(judge_at(server), "q", "r", "a", repeats=2)
    assert (judgement.value, judgement.spread) == (0.25, None)  # one grade has no spread


def test_repeats_are_bounded_need_a_judge_and_are_never_a_metric_to_ask_for(db):
    for repeats in (0, MAX_REPEATS + 1):
        with pytest.raises(InvalidInputError, match=f"judge_repeats must be 1 to {MAX_REPEATS}"):
            RunOptions(judge_repeats=repeats)
    import_eval_set(db, "s", json.dumps({"id": "q0", "question": "Q?", "reference_answer": "A."}), "test",
                    actor=LOCAL_ADMIN)
    with pytest.raises(InvalidInputError, match="needs a judge"):
        submit_eval(db, "s", ["local"], ["token_f1"], RunOptions(judge_repeats=3), actor=LOCAL_ADMIN)
    assert JUDGE_SPREAD not in METRICS and JUDGE_CORRECTNESS not in METRICS


def judged_run(db, grades: dict[str, list[list[int]]], failed: Optional[dict[str, set[int]]] = None) -> EvalRun:
    """A finished run whose judge graded system s's answer to question n `grades[s][n]` (1-5 each, K times);
    `failed[s]` are the questions s failed to answer (written as the job writes them, with no model)."""
    questions = len(next(iter(grades.values())))
    import_eval_set(db, "judged", "\n".join(json.dumps({"id": f"q{n}", "question": f"Question {n}?",
                                                        "reference_answer": f"fact {n}"}) for n in range(questions)),
                    "test", actor=LOCAL_ADMIN)
    asked = get_eval_set(db, "judged")
    with db.session() as session:
        run = EvalRun(eval_set="judged", eval_set_id=asked.id, eval_set_sha256=asked.sha256, systems=list(grades),
                      metrics=[JUDGE_CORRECTNESS], judge="anthropic", options={"judge_repeats": 3})
        session.add(run)
    for system, by_question in grades.items():
        broken = (failed or {}).get(system, set())
        answers = [EvalResult(run_id=run.id, item_id=f"q{n}", position=n, system=system, text=f"answer {n}",
                              latency_ms=100.0, error="HTTP 500" if n in broken else None)
                   for n in range(questions)]
        save_answers(db, answers, [{} if n in broken else scores(k_grades) for n, k_grades in enumerate(by_question)])
    return finish_run(db, run.id, {})


def scores(k_grades: list[int]) -> dict:
    values = [(g - 1) / 4 for g in k_grades]
    return {JUDGE_CORRECTNESS: (sum(values) / len(values), "r"),
            JUDGE_SPREAD: (max(values) - min(values), f"grades {', '.join(map(str, k_grades))} of 5")}


def test_answers_graded_at_least_the_threshold_apart_are_counted_and_listed_widest_first(db):
    run = judged_run(db, {SYSTEM: [[5, 5, 5], [5, 4, 5], [5, 3, 4], [1, 5, 3]],
                          "other": [[4, 4, 4], [2, 2, 2], [3, 3, 3], [5, 5, 5]]})
    assert UNSTABLE_SPREAD == 0.5
    assert run.summary[SYSTEM]["unstable_judgements"] == 2  # spreads 0.5 and 1.0; 0.25 is not unstable
    assert run.summary["other"]["unstable_judgements"] == 0  # graded more than once, all agreeing
    assert run.summary[SYSTEM]["metrics"][JUDGE_SPREAD]["mean"] == pytest.approx((0 + 0.25 + 0.5 + 1) / 4)
    rows = {row["system"]: row for row in summary_rows(run)}
    assert (rows[SYSTEM][UNSTABLE_COLUMN], rows["other"][UNSTABLE_COLUMN]) == (2, 0)
    assert rows[SYSTEM][JUDGE_SPREAD].startswith("0.438 [")
    listed = unstable_rows(db, run)
    assert [(r["question id"], r["system"], r["spread"]) for r in listed] == [("q3", SYSTEM, 1.0), ("q2", SYSTEM, 0.5)]
    assert listed[0]["question"] == "Question 3?" and listed[0]["grades"] == "grades 1, 5, 3 of 5"
    text = describe(db, run)
    assert f"{SYSTEM}: 4/4 answered" in text and "2 unstable judgement(s)" in text
    assert "unstable: q3 on local:smollm2: spread 1.00 (grades 1, 5, 3 of 5)" in text
    assert JUDGE_SPREAD not in {metric for bar in metric_bars(run).data for metric in bar.x}


def test_a_run_judged_once_shows_no_stability_and_a_failure_never_counts_as_a_spread_of_0(db):
    run = judged_run(db, {SYSTEM: [[5, 3, 4], [4, 4, 4], [2, 2, 2]]}, failed={SYSTEM: {1}})
    spread = run.summary[SYSTEM]["metrics"][JUDGE_SPREAD]
    assert spread[ALL_QUESTIONS]["n"] == spread["n"] == 2  # the failed answer is graded in neither
    assert spread[ALL_QUESTIONS]["mean"] == spread["mean"] == 0.25
    [row] = summary_rows(run)
    assert f"{JUDGE_CORRECTNESS} (failures as 0)" in row and f"{JUDGE_SPREAD} (failures as 0)" not in row
    with db.session() as session:
        for score in session.query(EvalScore).filter_by(metric=JUDGE_SPREAD):
            session.delete(score)
    once = finish_run(db, run.id, {})
    assert "unstable_judgements" not in once.summary[SYSTEM] and UNSTABLE_COLUMN not in summary_rows(once)[0]
    assert unstable_rows(db, once) == [] and "unstable" not in describe(db, once)


def test_runs_are_not_compared_on_the_judges_spread(db):
    first = judged_run(db, {SYSTEM: [[5, 5, 5], [5, 5, 5]]})
    with db.session() as session:  # the second run: the same answers, graded apart
        second = EvalRun(eval_set=first.eval_set, eval_set_id=first.eval_set_id,
                         eval_set_sha256=first.eval_set_sha256, systems=[SYSTEM], metrics=[JUDGE_CORRECTNESS])
        session.add(second)
    save_answers(db, [EvalResult(run_id=second.id, item_id=f"q{n}", position=n, system=SYSTEM, text="a",
                                 latency_ms=1.0) for n in range(2)], [scores([5, 1, 3]), scores([5, 1, 3])])
    finish_run(db, second.id, {})
    assert [m.metric for m in compare_runs(db, first.id, second.id).metrics] == [JUDGE_CORRECTNESS]


def test_calibration_is_shown_beside_judge_scores_with_and_without_labels(db):
    run = judged_run(db, {SYSTEM: [[5, 5, 5], [1, 1, 1], [5, 5, 4]]})
    assert calibration_line(None) == NOT_CALIBRATED and NOT_CALIBRATED in describe(db, run)
    answers = results(db, run.id)
    for answer, label in zip(answers, ["correct", "wrong", "wrong"]):
        save_label(db, answer.id, "Ana", label, actor=LOCAL_ADMIN)
    text = describe(db, run)
    assert NOT_CALIBRATED not in text
    kappa = re.search(r"Judge-human agreement: Cohen's kappa (-?[\d.]+) \((\d+)% the same grade, (\d+) labelled", text)
    assert kappa and (kappa.group(2), kappa.group(3)) == ("67", "3") and float(kappa.group(1)) == pytest.approx(0.4)


def test_a_run_without_a_judge_says_nothing_of_calibration(db):
    run = stored_run(db, eval_set(db, questions=2), {"token_f1": [1.0, 0.5]})
    assert "calibrated" not in describe(db, run) and "agreement" not in describe(db, run)


def test_the_evaluate_page_shows_calibration_spread_and_unstable_questions(db):
    from tests.pages.conftest import open_page

    run = judged_run(db, {SYSTEM: [[5, 5, 5], [1, 5, 3]]})
    at = open_page("pages/evaluate.py")
    assert not at.exception and not at.error
    [row] = at.table[0].value.to_dict("records")
    assert row[UNSTABLE_COLUMN] == 1 and row[JUDGE_SPREAD].startswith("0.500 [")
    assert any(NOT_CALIBRATED in caption.value for caption in at.caption)
    unstable = at.dataframe[-1].value
    assert list(unstable["question id"]) == ["q1"] and unstable.iloc[0]["spread"] == 1.0
    save_label(db, results(db, run.id)[0].id, "Ana", "correct", actor=LOCAL_ADMIN)
    at.run()
    assert any("Judge-human agreement: Cohen's kappa" in caption.value for caption in at.caption)


@pytest.fixture
def key(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")


def by_question(grades: dict[str, list[int]]):
    """A fake judge that gives each question its own grades, in turn, whatever the answer."""
    asked: dict[str, int] = {}

    def reply(body: dict):
        question = re.search(r"Question: (.*?)\n", body["messages"][0]["content"]).group(1)
        asked[question] = asked.get(question, 0) + 1
        return grade(grades[question][(asked[question] - 1) % len(grades[question])])
    return reply


def test_the_cli_runs_a_judge_k_times_per_answer_and_a_new_judge_rescores_with_k_again(db, key, tiny_model_dir,
                                                                                        capsys):
    from core.cli import main

    items = [{"id": "a", "question": "Team price?", "reference_answer": "$9."},
             {"id": "b", "question": "Free plan name?", "reference_answer": "Pocket."}]
    import_eval_set(db, "priced", "\n".join(json.dumps(i) for i in items), "test", actor=LOCAL_ADMIN)
    system = f"local:{tiny_model_dir}?dtype=float32"
    with FakeServer(by_question({"Team price?": [5, 5, 5], "Free plan name?": [5, 2, 3]})) as server:
        assert main(["eval", "run", "--set", "priced", "--system", system, "--metric", "token_f1", "--max-new-tokens",
                     "4", "--judge", f"anthropic?base_url={server.url}&max_retries=0", "--judge-repeats", "3"]) == 0
    assert len(server.requests) == 6
    run = get_run(db, int(capsys.readouterr().out.split()[0]))
    [stats] = run.summary.values()
    assert RunOptions(**run.options).judge_repeats == 3 and stats["unstable_judgements"] == 1
    judged = {a.item_id: a.id for a in results(db, run.id)}
    with db.session() as session:
        found = {(s.result_id, s.metric): s.value for s in session.query(EvalScore).filter_by(run_id=run.id)}
    assert found[judged["a"], JUDGE_CORRECTNESS] == 1.0 and found[judged["a"], JUDGE_SPREAD] == 0.0
    assert found[judged["b"], JUDGE_CORRECTNESS] == pytest.approx((1.0 + 0.25 + 0.5) / 3)
    assert found[judged["b"], JUDGE_SPREAD] == 0.75
    with FakeServer(grade(4)) as server:
        assert main(["eval", "rescore", str(run.id), "--judge", f"anthropic?base_url={server.url}&max_retries=0"]) == 0
    assert len(server.requests) == 6  # the new judge is asked K times per answer too
    out = capsys.readouterr().out
    assert "0 unstable judgement(s)" in out and NOT_CALIBRATED in out
    with db.session() as session:
        spreads = [s.value for s in session.query(EvalScore).filter_by(run_id=run.id, metric=JUDGE_SPREAD)]
    assert spreads == [0.0, 0.0]  # the old judge's spreads are gone with its grades


def test_the_run_form_passes_judge_repeats_on(db):
    from tests.pages.conftest import open_page

    import_eval_set(db, "s", json.dumps({"id": "q0", "question": "Q?", "reference_answer": "A."}), "test",
                    actor=LOCAL_ADMIN)
    at = open_page("pages/evaluate.py")
    at.number_input(key="ev_run_judge_repeats").set_value(3)
    at.button[-1].click()  # the form's submit button: forms have no key of their own
    at.run()
    assert any("Judging each answer 3 times needs a judge" in error.value for error in at.error)
