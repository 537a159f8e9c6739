"""Eval runs as jobs: real answers from the tiny model, real metrics, failures recorded (a killed run's resume
is in tests/reliability/test_killed_workers.py)."""

from __future__ import annotations

import json

import pytest

from core.access import LOCAL_ADMIN
from core.cli import main
from core.errors import InvalidInputError, NotFoundError
from core.evaluation.runs import (ALL_QUESTIONS, RunOptions, get_run, list_runs, results, submit_eval,
                                  submit_rescore)
from core.evaluation.sets import get_eval_set, import_eval_set
from core.jobs import queue
from core.store.tables import EvalScore
from tests.evaluation.ragas_judge import agreeing_judge
from tests.llm.fake_servers import FakeServer, Reply, openai_chat
from tests.training_fixtures import wait_until

ITEMS = [{"id": f"q{n}", "question": f"What is fact number {n}?", "reference_answer": f"Fact {n} is blue.",
          "keywords": ["blue"]} for n in range(1, 5)]


@pytest.fixture
def small_set(db):
    text = "\n".join(json.dumps(item) for item in ITEMS)
    return import_eval_set(db, "small", text, "test", actor=LOCAL_ADMIN).name


def finished(db, run):
    job = wait_until(db, run.job_id, [queue.SUCCEEDED, queue.FAILED])
    assert job.status == queue.SUCCEEDED, job.error
    return get_run(db, run.id)


@pytest.mark.slow  # the embedding model, loaded by a worker or the CLI
def test_a_run_answers_grades_and_summarises_every_item(db, small_set, tiny_model_dir):
    tiny = f"local:{tiny_model_dir}?dtype=float32"
    run = finished(db, submit_eval(db, small_set, [tiny, "local:/no/such/model"], options=RunOptions(max_new_tokens=6),
                                   actor=LOCAL_ADMIN))
    answers = results(db, run.id)
    assert len(answers) == 8
    broken = [a for a in answers if a.system == "local:/no/such/model"]
    assert all("outside the folders the lab may read" in a.error for a in broken)  # recorded, not skipped
    good = [a for a in answers if a.system == parse_text(tiny) and not a.error]
    assert len(good) == 4 and all(a.model == "local:tiny-chat" and a.output_tokens > 0 for a in good)
    assert all(a.batch_share_ms == pytest.approx(good[0].latency_ms / 4, rel=0.5) for a in good)  # one batch of 4

    summary = run.summary[parse_text(tiny)]
    assert summary["answers"] == 4 and summary["failed"] == 0
    # every metric that needs no judge, but the retrieval ones: this system retrieves nothing
    # the references are short, so contains_reference is among the defaults
    assert set(summary["metrics"]) == {"exact_match", "contains_reference", "keyword_presence", "token_f1",
                                       "semantic_similarity", "string_similarity", "bleu", "rouge_l"}
    for estimate in summary["metrics"].values():
        assert estimate["low"] <= estimate["mean"] <= estimate["high"] and estimate["n"] == 4
    assert summary["latency_ms"]["p50"] > 0 and summary["cost_per_1k_usd"] > 0
    assert (run.summary["local:/no/such/model"]["answers"], run.summary["local:/no/such/model"]["failed"]) == (4, 4)
    assert run.system_configs[parse_text(tiny)]["model_id"] == "local:tiny-chat"
    assert run.finished_at is not None


def parse_text(spec: str) -> str:
    from core.llm.spec import parse_spec

    return parse_spec(spec).text


def test_an_api_that_fails_halfway_fails_only_the_items_it_refused(db, small_set):
    failing = Reply(status=500, body={"error": {"message": "overloaded"}})
    with FakeServer(openai_chat("It is blue."), openai_chat("It is blue."), failing) as server:
        spec = f"openai:served?base_url={server.url}/v1&max_retries=0"
        run = finished(db, submit_eval(db, small_set, [spec], ["keyword_presence"], actor=LOCAL_ADMIN))
    answers = results(db, run.id)
    assert sorted(a.text for a in answers if not a.error) == ["It is blue.", "It is blue."]
    assert sum("HTTP 500" in (a.error or "") for a in answers) == 2 and len(server.requests) == 4  # none re-asked
    presence = run.summary[parse_text(spec)]["metrics"]["keyword_presence"]
    assert {key: presence[key] for key in ("mean", "low", "high", "n", "failed")} == {"mean": 1.0, "low": 1.0,
                                                                                   "high": 1.0, "n": 2, "failed": 0}
    assert (presence[ALL_QUESTIONS]["mean"], presence[ALL_QUESTIONS]["n"]) == (0.5, 4)  # the 2 refused score 0


def test_a_limited_run_asks_only_the_sets_first_questions(db, small_set, capsys):
    from core.evaluation.views import item_choices

    with FakeServer(openai_chat("It is blue."), openai_chat("It is blue.")) as server:
        spec = f"openai:served?base_url={server.url}/v1&max_retries=0"
        assert main(["eval", "run", "--set", small_set, "--system", spec, "--metric", "keyword_presence",
                     "--limit", "2"]) == 0
    assert "2/2 answered" in capsys.readouterr().out and len(server.requests) == 2
    run = get_run(db, list_runs(db)[0][0].id)
    assert sorted(a.item_id for a in results(db, run.id)) == ["q1", "q2"]
    assert [item_id for item_id, _ in item_choices(db, run)] == ["q1", "q2"]
    assert run.summary[parse_text(spec)]["answers"] == 2
    assert "(first 2)" in queue.get_job(db, run.job_id).title


def test_the_cli_defaults_to_the_sets_metrics(db, small_set):
    from core.jobs import scheduler

    assert main(["eval", "run", "--set", small_set, "--system", "local", "--no-wait"]) == 0
    [(run, job)] = list_runs(db)
    scheduler.cancel(db, job.id)  # only the metrics asked for are under test here
    assert "contains_reference" in run.metrics  # the references have four words


def test_bad_runs_are_refused_before_anything_is_queued(db, small_set):
    with pytest.raises(NotFoundError, match="No eval set named 'ghost'"):
        submit_eval(db, "ghost", ["local"], actor=LOCAL_ADMIN)
    with pytest.raises(InvalidInputError, match="Unknown metric"):
        submit_eval(db, small_set, ["local"], ["vibes"], actor=LOCAL_ADMIN)
    with pytest.raises(InvalidInputError, match="Unknown backend"):
        submit_eval(db, small_set, ["nonsense:x"], actor=LOCAL_ADMIN)
    with pytest.raises(InvalidInputError, match="question limit must be at least 1"):
        submit_eval(db, small_set, ["local"], options=RunOptions(limit=0), actor=LOCAL_ADMIN)
    assert queue.list_jobs(db) == []


def test_the_command_line_gates_on_thresholds(db, small_set, tiny_model_dir, tmp_path, capsys):
    tiny = f"local:{tiny_model_dir}?dtype=float32"
    out = tmp_path / "run.json"
    assert main(["eval", "run", "--set", small_set, "--system", tiny, "--metric", "token_f1", "--max-new-tokens",
                 "4", "--json", str(out), "--fail-under", "token_f1=2"]) == 1
    captured = capsys.readouterr()
    assert "FAIL local:" in captured.err and "token_f1" in captured.err
    report = json.loads(out.read_text())
    assert len(report["answers"]) == 4 and report["metrics"] == ["token_f1"]
    assert main(["eval", "list"]) == 0 and "\tsucceeded\tsmall\t" in capsys.readouterr().out
    assert main(["eval", "show", str(report["id"])]) == 0 and "4/4 answered" in capsys.readouterr().out
    assert main(["eval", "run", "--set", small_set, "--system", tiny, "--fail-under", "f1"]) == 2


def test_scores_are_rows_a_query_can_aggregate(db, small_set, tiny_model_dir):
    from sqlalchemy import func
    from sqlmodel import select

    run = finished(db, submit_eval(db, small_set, [f"local:{tiny_model_dir}?dtype=float32"], ["keyword_presence"],
                                   RunOptions(max_new_tokens=4), actor=LOCAL_ADMIN))
    with db.session() as session:
        mean = session.exec(select(func.avg(EvalScore.value)).where(EvalScore.run_id == run.id)).one()
    assert mean == pytest.approx(next(iter(run.summary.values()))["metrics"]["keyword_presence"]["mean"])
    asked = get_eval_set(db, small_set)
    assert (run.eval_set_id, run.eval_set_sha256) == (asked.id, asked.sha256)  # what the run's questions were


@pytest.mark.slow  # the embedding model, loaded by a worker or the CLI
def test_a_rag_run_keeps_every_context_and_is_graded_on_retrieval_and_by_ragas(db, tiny_model_dir, monkeypatch):
    from core.rag.config import KnowledgeBaseConfig
    from core.rag.knowledge import create_knowledge_base

    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    create_knowledge_base(db, "docs", KnowledgeBaseConfig(source_path="eval_sets/demo/docs/v1"))
    f01 = next(line for line in open("eval_sets/demo/ledgerly-v1.jsonl") if '"f01"' in line)
    import_eval_set(db, "prices", f01, "test", actor=LOCAL_ADMIN)
    rag = f"local:{tiny_model_dir}?dtype=float32&kb=docs&k=3"
    with FakeServer(agreeing_judge) as judge:
        judge_spec = f"anthropic:claude-judge?base_url={judge.url}&max_retries=0"
        run = finished(db, submit_eval(db, "prices", [rag], ["recall_at_5", "mrr", "nonllm_context_recall",
                                                             "faithfulness"], RunOptions(max_new_tokens=4),
                                       judge=judge_spec, actor=LOCAL_ADMIN))
        [answer] = results(db, run.id)
        assert len(answer.contexts) == 3 and answer.contexts[0]["number"] == 1 and answer.retrieval_ms > 0
        ranked = [c["source"] for c in answer.contexts]
        assert "pricing.md" in ranked
        metrics = run.summary[parse_text(rag)]["metrics"]
        assert metrics["recall_at_5"]["mean"] == 1.0 and metrics["mrr"]["mean"] == 1 / (ranked.index("pricing.md") + 1)
        assert metrics["nonllm_context_recall"]["n"] == 1  # computed by ragas against the reference section
        assert metrics["faithfulness"]["mean"] == pytest.approx(1.0)  # the fake judge supports every claim
        assert metrics["judge_correctness"]["mean"] == 1.0  # 5/5 from the same judge
        assert run.system_configs[parse_text(rag)]["knowledge_base"]["generation"] == 1

        asked = len(judge.requests)
        rescore = submit_rescore(db, run.id, ["context_recall"], actor=LOCAL_ADMIN)
        finished_job = wait_until(db, rescore.id, [queue.SUCCEEDED, queue.FAILED])
        assert finished_job.status == queue.SUCCEEDED, finished_job.error
    # re-scored from the stored contexts: one recall request, no new answer
    assert get_run(db, run.id).summary[parse_text(rag)]["metrics"]["context_recall"]["mean"] == pytest.approx(1.0)
    assert len(judge.requests) == asked + 1 and len(results(db, run.id)) == 1


def test_a_system_whose_knowledge_base_is_missing_is_refused_before_anything_is_saved(db, small_set):
    with pytest.raises(NotFoundError, match="local:smollm2\\?kb=ghost answers from a knowledge base that does not "
                                            "exist: No knowledge base named 'ghost'"):
        submit_eval(db, small_set, ["local", "local?kb=ghost"], actor=LOCAL_ADMIN)
    with pytest.raises(InvalidInputError, match="faithfulness need\\(s\\) a judge"):
        submit_eval(db, small_set, ["local"], ["faithfulness"], actor=LOCAL_ADMIN)
    assert queue.list_jobs(db) == [] and list_runs(db) == []
