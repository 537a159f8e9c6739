"""The pointwise judge, against a fake Anthropic server (the network boundary): valid verdicts,
replies that are not verdicts (asked again, then a recorded failure), and a judge that refuses."""

import json

import pytest

from core.access import LOCAL_ADMIN
from core.evaluation.judge import is_weak_judge, judge, parse_reply
from core.evaluation.runs import get_run, results, submit_eval
from core.evaluation.sets import import_eval_set
from core.jobs import queue
from core.llm.anthropic_backend import AnthropicBackend
from core.store.tables import EvalScore
from tests.llm.fake_servers import FakeServer, Reply, anthropic_message
from tests.training_fixtures import wait_until

VALID = anthropic_message('{"score": 4, "reason": "Right price, billing period left out."}')


@pytest.fixture
def key(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")


def judge_at(server) -> AnthropicBackend:
    return AnthropicBackend("claude-sonnet-4-5", "sk-test", base_url=server.url, max_retries=0)


def test_a_valid_verdict_is_scored_on_the_0_to_1_axis_with_its_reason(key):
    with FakeServer(VALID) as server:
        verdict = judge(judge_at(server), "Team price?", "$9 per user per month.", "It is $9.")
    assert verdict.value == 0.75 and verdict.reason == "4/5: Right price, billing period left out."
    prompt = server.requests[0]["json"]
    assert "Reference answer: $9 per user per month." in prompt["messages"][0]["content"]


def test_a_reply_that_is_not_a_verdict_is_asked_again(key):
    with FakeServer(anthropic_message("Looks fine to me!"), anthropic_message('{"score": 9, "reason": "x"}'),
                    VALID) as server:
        verdict = judge(judge_at(server), "q", "r", "a")
    assert verdict.value == 0.75 and len(server.requests) == 3


def test_after_the_last_attempt_the_failure_is_recorded_with_its_cause(key):
    with FakeServer(anthropic_message("no idea")) as server:
        verdict = judge(judge_at(server), "q", "r", "a")
    assert verdict.value is None and "judge failure after 3 attempts: no JSON object" in verdict.reason
    with FakeServer(Reply(status=429, body={"type": "error", "error": {"type": "rate_limit_error",
                                                                        "message": "slow down"}})) as server:
        verdict = judge(judge_at(server), "q", "r", "a")
    assert verdict.value is None and "429" in verdict.reason


def test_replies_are_validated():
    assert parse_reply('Sure. {"score": 5, "reason": "Same facts."} Done.').score == 5
    for bad, problem in (('{"score": 0, "reason": "x"}', "score"), ('{"score": 3}', "reason"),
                         ("{score: 3}", "not valid"), ("3/5", "no JSON object")):
        with pytest.raises(ValueError, match=problem):
            parse_reply(bad)


def test_the_local_model_is_labelled_a_weak_judge():
    assert is_weak_judge("local") and not is_weak_judge("anthropic:claude-sonnet-4-5")


def test_a_run_with_a_judge_stores_its_scores_reasons_and_failures(db, key, tiny_model_dir):
    items = [{"id": "a", "question": "Team price?", "reference_answer": "$9."},
             {"id": "b", "question": "Free plan name?", "reference_answer": "Pocket."},
             {"id": "c", "question": "No reference here."}]
    import_eval_set(db, "judged", "\n".join(json.dumps(i) for i in items), "test", actor=LOCAL_ADMIN)
    with FakeServer(VALID, anthropic_message("unsure")) as server:
        run = submit_eval(db, "judged", [f"local:{tiny_model_dir}?dtype=float32"], ["token_f1"],
                          judge=f"anthropic?base_url={server.url}&max_retries=0", actor=LOCAL_ADMIN)
        job = wait_until(db, run.job_id, [queue.SUCCEEDED, queue.FAILED])
    assert job.status == queue.SUCCEEDED, job.error
    run = get_run(db, run.id)
    [estimate] = [s["metrics"]["judge_correctness"] for s in run.summary.values()]
    assert (estimate["mean"], estimate["n"], estimate["failed"]) == (0.75, 1, 1)  # c has no reference: not judged
    with db.session() as session:
        reasons = {s.reason for s in session.query(EvalScore).filter_by(metric="judge_correctness")}
    assert "4/5: Right price, billing period left out." in reasons
    assert any(r.startswith("judge failure after 3 attempts") for r in reasons)
    assert len(results(db, run.id)) == 3


def test_a_finished_run_is_rescored_with_a_judge_without_asking_the_system_again(db, key, tiny_model_dir):
    from core.cli import main

    items = [{"id": "a", "question": "Team price?", "reference_answer": "$9."},
             {"id": "b", "question": "Free plan?", "reference_answer": "Pocket."}]
    import_eval_set(db, "later", "\n".join(json.dumps(i) for i in items), "test", actor=LOCAL_ADMIN)
    run = submit_eval(db, "later", [f"local:{tiny_model_dir}?dtype=float32"], ["token_f1"], actor=LOCAL_ADMIN)
    wait_until(db, run.job_id, [queue.SUCCEEDED])
    answered = {a.id: a.answered_at for a in results(db, run.id)}
    with FakeServer(VALID) as server:
        assert main(["eval", "rescore", str(run.id), "--judge", f"anthropic?base_url={server.url}&max_retries=0",
                     "--metric", "exact_match"]) == 0
    run = get_run(db, run.id)
    [stats] = run.summary.values()
    assert stats["metrics"]["judge_correctness"]["mean"] == 0.75 and "exact_match" in stats["metrics"]
    assert "token_f1" in stats["metrics"] and run.judge.startswith("anthropic:")
    assert {a.id: a.answered_at for a in results(db, run.id)} == answered  # the same answers, graded again
    assert len(server.requests) == 2
