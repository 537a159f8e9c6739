"""The pairwise judge, both orders, against a fake Anthropic server (the network boundary)."""

import time

import pytest

from core.access import LOCAL_ADMIN
from core.cli import main
from core.errors import InvalidInputError
from core.evaluation.pairwise import compare, judge_pairs, submit_pairwise
from core.evaluation.runs import get_run
from core.llm.anthropic_backend import AnthropicBackend
from tests.evaluation import pairwise_fixtures
from tests.evaluation.pairwise_fixtures import says
from tests.llm.fake_servers import FakeServer, anthropic_message


@pytest.fixture
def claude(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    return lambda server: AnthropicBackend("claude-sonnet-4-5", "sk-test", base_url=server.url, max_retries=0)


def test_orders_that_agree_name_the_winner(claude):
    with FakeServer(says("A"), says("B")) as server:  # A first, then A shown second: the same answer wins
        verdict = compare(claude(server), "q1", "Team price?", "$9.", "It is $9.", "It is $12.")
    assert (verdict.winner, verdict.consistent) == ("A", True)
    straight, swapped = (r["json"]["messages"][0]["content"] for r in server.requests)
    assert "Answer A: It is $9." in straight and "Answer A: It is $12." in swapped


def test_orders_that_disagree_are_a_tie(claude):
    with FakeServer(says("A"), says("A")) as server:  # the judge always picks the first answer shown
        verdict = compare(claude(server), "q1", "Team price?", "$9.", "It is $9.", "It is $12.")
    assert (verdict.winner, verdict.consistent) == ("tie", False)


def test_a_judge_that_never_gives_a_verdict_is_a_recorded_failure(claude):
    with FakeServer(anthropic_message("Both are fine.")) as server:
        verdict = compare(claude(server), "q1", "q", "r", "a", "b")
    assert verdict.winner is None and "judge failure after 3 attempts" in verdict.reasons[0]


@pytest.fixture
def answered_run(db):
    return pairwise_fixtures.answered_run(db, ["1", "2"])


def test_a_run_reports_wins_ties_and_position_consistency(db, claude, answered_run):
    run = answered_run
    with FakeServer(says("B"), says("A"), says("A"), says("A")) as server:
        outcome = judge_pairs(db, run.id, "local", "anthropic", "anthropic", claude(server))
    assert (outcome["a_wins"], outcome["b_wins"], outcome["ties"], outcome["pairs"]) == (0, 1, 1, 2)
    assert outcome["position_consistency"] == 0.5
    assert get_run(db, run.id).pairwise["local:smollm2 vs anthropic:claude-sonnet-4-5"]["b_wins"] == 1
    with pytest.raises(InvalidInputError, match="Pick two different systems"):
        judge_pairs(db, run.id, "local", "local", "anthropic", claude(server))
    with FakeServer(says("tie")) as server:
        assert main(["eval", "pairwise", str(run.id), "local", "anthropic", "--judge",
                     f"anthropic?base_url={server.url}&max_retries=0"]) == 0


def test_pairwise_judging_runs_as_a_job_of_the_run(db, claude, answered_run):
    from core.jobs import queue
    from tests.training_fixtures import wait_until

    with FakeServer(says("A"), says("B")) as server:  # item 1: A in both orders; item 2 repeats "B": a tie
        job = submit_pairwise(db, answered_run.id, "local", "anthropic",
                              f"anthropic?base_url={server.url}&max_retries=0", actor=LOCAL_ADMIN)
        job = wait_until(db, job.id, [queue.SUCCEEDED, queue.FAILED])
    assert job.status == queue.SUCCEEDED, job.error
    assert (job.result["a_wins"], job.result["ties"]) == (1, 1) and get_run(db, answered_run.id).job_id == job.id
    assert list(get_run(db, answered_run.id).pairwise) == ["local:smollm2 vs anthropic:claude-sonnet-4-5"]
    with pytest.raises(InvalidInputError, match="Choose a judge"):
        submit_pairwise(db, answered_run.id, "local", "anthropic", " ", actor=LOCAL_ADMIN)


@pytest.mark.sqlite_only
def test_a_cancelled_pairwise_job_stops_between_verdicts_and_its_resume_judges_only_the_rest(db, claude):
    from core.jobs import queue, scheduler
    from tests.training_fixtures import wait_until

    run = pairwise_fixtures.answered_run(db, [str(n) for n in range(20)])
    with FakeServer(says("A", delay_s=0.1)) as server:
        job = submit_pairwise(db, run.id, "local", "anthropic", f"anthropic?base_url={server.url}&max_retries=0",
                              actor=LOCAL_ADMIN)
        while len(server.requests) < 4:  # two pairs judged
            time.sleep(0.05)
        scheduler.cancel(db, job.id)
        job = wait_until(db, job.id, [queue.CANCELLED, queue.SUCCEEDED, queue.FAILED])
        assert job.status == queue.CANCELLED, job.error
        asked = len(server.requests)
        assert asked < 2 * 20  # stopped well before the end, not at it
        job = wait_until(db, scheduler.resume(db, job.id).id, [queue.SUCCEEDED, queue.FAILED])
    assert job.status == queue.SUCCEEDED, job.error
    assert job.result["pairs"] == 20 and job.result["ties"] == 20  # "A" in both orders: no position-free winner
    assert len(server.requests) == 2 * 20  # each pair's two orders asked once in all
