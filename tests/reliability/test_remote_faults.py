"""Servers the lab asks that fail: an API answering 429, 500, garbage or nothing in time, a judge doing the
same, a Chroma server that dies mid-search. Each failure is recorded where it happened, with its cause,
and nothing already saved is harmed."""

from __future__ import annotations

import json
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlmodel import select

from core.access import LOCAL_ADMIN
from core.errors import StoreError
from core.evaluation.catalog import JUDGE_CORRECTNESS
from core.evaluation.runs import get_run, results, submit_eval, submit_rescore
from core.evaluation.sets import import_eval_set
from core.jobs import queue, scheduler
from core.rag import vectorstore
from core.rag.config import KnowledgeBaseConfig
from core.rag.knowledge import create_knowledge_base, get_knowledge_base, open_retriever
from core.store.tables import EvalScore
from tests.llm.fake_servers import FakeServer, Reply, anthropic_message, error, openai_chat
from tests.rag.rag_fixtures import ChromaServer
from tests.training_fixtures import wait_until

pytestmark = pytest.mark.reliability

TIMEOUT_S = 1.0
HANGS = Reply(delay_s=TIMEOUT_S + 2)
# What goes wrong with each question (the fake server picks its reply by the question it is asked).
FAULTS = {"rate limited": (error(429), "rate-limiting requests (HTTP 429)"),
          "server error": (error(500), "failed on its side (HTTP 500)"),
          "not json": (Reply(body=b"<html>502 Bad Gateway</html>"), "sent a reply that is not JSON"),
          "no answer in it": (Reply(body={"id": "x", "object": "chat.completion"}), "sent a reply with no choices"),
          "hangs": (HANGS, "did not answer in time")}
QUESTIONS = ["fine", *FAULTS]


def by_question(replies: dict[str, Reply], otherwise: Reply):
    """A fake server's reply chosen by which key the request's text mentions."""
    def reply(request: dict) -> Reply:
        text = json.dumps(request)
        return next((answer for key, answer in replies.items() if key in text), otherwise)
    return reply


def import_questions(db) -> None:
    items = [{"id": question.replace(" ", "-"), "question": f"Is the sky blue? ({question})",
              "reference_answer": "Yes, blue.", "keywords": ["blue"]} for question in QUESTIONS]
    import_eval_set(db, "faults", "\n".join(json.dumps(item) for item in items), "test", actor=LOCAL_ADMIN)


def finished_run(db, run):
    job = wait_until(db, run.job_id, [queue.SUCCEEDED, queue.FAILED], timeout=120)
    assert job.status == queue.SUCCEEDED, job.error
    return get_run(db, run.id)


def test_an_api_failing_in_every_way_fails_only_its_answers_each_with_its_cause_and_a_resume_asks_them_again(db):
    import_questions(db)
    replies = {key: reply for key, (reply, _) in FAULTS.items()}
    fine = openai_chat("Yes, it is blue.")
    with FakeServer(lambda request: by_question(replies, fine)(request) if replies else fine) as api:
        spec = f"openai:served?base_url={api.url}/v1&max_retries=0&timeout={TIMEOUT_S}"
        run = finished_run(db, submit_eval(db, "faults", [spec], ["keyword_presence"], actor=LOCAL_ADMIN))
        check_each_fault_is_its_answers_failure(db, run, api)

        replies.clear()  # the API recovers; the run is taken as cut short, and resumed
        queue.set_fields(db, run.job_id, status=queue.INTERRUPTED)
        scheduler.resume(db, run.job_id)
        run = finished_run(db, run)
    assert not [answer.item_id for answer in results(db, run.id) if answer.error]
    assert len(results(db, run.id)) == len(QUESTIONS)
    assert len(api.requests) == len(QUESTIONS) + len(FAULTS)  # only the failed ones asked again


def check_each_fault_is_its_answers_failure(db, run, api) -> None:
    answers = {answer.item_id: answer for answer in results(db, run.id)}
    assert len(answers) == len(QUESTIONS) and answers["fine"].text == "Yes, it is blue." and not answers["fine"].error
    for question, (_, cause) in FAULTS.items():
        answer = answers[question.replace(" ", "-")]
        assert cause in answer.error and answer.text == ""
    [summary] = run.summary.values()
    assert (summary["answers"], summary["failed"]) == (len(QUESTIONS), len(FAULTS))
    assert summary["metrics"]["keyword_presence"]["n"] == 1  # a failure is never graded as a wrong answer
    assert len(api.requests) == len(QUESTIONS)  # none asked twice


def judge_says(score: int) -> Reply:
    return anthropic_message(json.dumps({"score": score, "reason": "It states the reference's facts."}))


def judge_scores(db, run_id: int) -> dict[int, list[EvalScore]]:
    with db.session() as session:
        rows = session.exec(select(EvalScore).where(EvalScore.run_id == run_id, EvalScore.metric == JUDGE_CORRECTNESS))
        scores: dict[int, list[EvalScore]] = {}
        for row in rows:
            scores.setdefault(row.result_id, []).append(row)
    return scores


def test_a_failing_judge_leaves_reasons_and_a_rescore_with_a_working_one_grades_every_answer(db, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    import_questions(db)
    faults = {"rate limited": error(429), "server error": error(500), "not json": Reply(body=b"garbage"),
              "hangs": HANGS}
    with FakeServer(openai_chat("Yes, it is blue.")) as api, \
            FakeServer(by_question(faults, judge_says(5))) as judge, FakeServer(judge_says(4)) as second_judge:
        system = f"openai:served?base_url={api.url}/v1&max_retries=0"
        judge_spec = f"anthropic:claude-judge?base_url={judge.url}&max_retries=0&timeout={TIMEOUT_S}"
        run = finished_run(db, submit_eval(db, "faults", [system], ["keyword_presence"], judge=judge_spec,
                                           actor=LOCAL_ADMIN))
        scores = judge_scores(db, run.id)
        reasons = {result.item_id: scores[result.id][0].reason for result in results(db, run.id)}
        assert all(len(rows) == 1 for rows in scores.values()) and len(scores) == len(QUESTIONS)
        assert "HTTP 429" in reasons["rate-limited"] and "HTTP 500" in reasons["server-error"]
        assert "not JSON" in reasons["not-json"] and "did not answer in time" in reasons["hangs"]
        assert all("judge failure after 3 attempts" in reasons[key] for key in ("rate-limited", "hangs"))
        failed = [rows[0] for rows in scores.values() if rows[0].value is None]
        assert len(failed) == 4 and get_run(db, run.id).summary[system]["metrics"][JUDGE_CORRECTNESS]["n"] == 2

        second_spec = f"anthropic:claude-judge?base_url={second_judge.url}&max_retries=0"
        rescore = submit_rescore(db, run.id, judge=second_spec, actor=LOCAL_ADMIN)
        job = wait_until(db, rescore.id, [queue.SUCCEEDED, queue.FAILED])
        assert job.status == queue.SUCCEEDED, job.error
    rescored = judge_scores(db, run.id)
    assert len(rescored) == len(QUESTIONS) and all(len(rows) == 1 for rows in rescored.values())  # replaced, once
    assert {rows[0].value for rows in rescored.values()} == {0.75}
    assert len(second_judge.requests) == len(QUESTIONS) and len(results(db, run.id)) == len(QUESTIONS)


def test_a_chroma_server_dying_mid_search_is_named_and_the_index_survives_it(db, notes, tmp_path, monkeypatch):
    server = ChromaServer(tmp_path / "chroma-data")
    monkeypatch.setenv("CHROMA_URL", server.start())
    try:
        create_knowledge_base(db, "notes", KnowledgeBaseConfig(source_path=str(notes)))
        retriever = open_retriever(db, "notes")
        before = retriever.search("refunds", k=2)
        os.kill(server.process.pid, signal.SIGSTOP)  # the search's request waits in a server that does not answer
        with ThreadPoolExecutor(1) as pool:
            search = pool.submit(retriever.search, "refunds", k=2)
            time.sleep(1.0)
            server.kill()  # ...and the server dies with it
            with pytest.raises(StoreError, match=f"Chroma at {server.url} failed: .*Check that the server is running"):
                search.result(timeout=60)
        row = get_knowledge_base(db, "notes")
        assert (row.status, row.generation, row.error) == ("ready", 1, None)  # nothing recorded against the index

        server.start()  # the same data, served again
        assert open_retriever(db, "notes").search("refunds", k=2) == before
    finally:
        server.stop()


def test_a_chroma_server_that_hangs_fails_the_search_after_the_timeout_and_answers_once_it_wakes(
        db, notes, tmp_path, monkeypatch):
    server = ChromaServer(tmp_path / "chroma-data")
    monkeypatch.setenv("CHROMA_URL", server.start())
    monkeypatch.setattr(vectorstore, "CHROMA_TIMEOUT_S", 3.0)
    try:
        create_knowledge_base(db, "notes", KnowledgeBaseConfig(source_path=str(notes)))
        retriever = open_retriever(db, "notes")
        before = retriever.search("refunds", k=2)
        os.kill(server.process.pid, signal.SIGSTOP)  # alive, holding its port, answering nobody
        started = time.monotonic()
        with pytest.raises(StoreError, match=f"Chroma at {server.url} did not answer in 3 s. Check that the server"):
            retriever.search("refunds", k=2)
        assert time.monotonic() - started < 30
        os.kill(server.process.pid, signal.SIGCONT)
        assert retriever.search("refunds", k=2) == before
    finally:
        server.stop()
