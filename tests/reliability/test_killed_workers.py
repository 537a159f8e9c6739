"""A worker of each kind SIGKILLed mid-run: its row says so, and a resume finishes the work with nothing
lost and nothing done twice (training steps, eval answers, index chunks, pairwise verdicts)."""

from __future__ import annotations

import json
import signal
from dataclasses import dataclass
from typing import Any, Callable

import pytest

from core.access import LOCAL_ADMIN
from core.errors import NotFoundError
from core.evaluation.pairwise import submit_pairwise
from core.evaluation.runs import RunOptions, get_run, results, submit_eval
from core.evaluation.sets import import_eval_set
from core.finetune.job import submit_training
from core.jobs import queue, scheduler
from core.jobs.processes import job_dir, signal_worker
from core.rag.chunking import chunk_file
from core.rag.config import KnowledgeBaseConfig
from core.rag.index_job import submit_index
from core.rag.indexer import collection_name, load_source
from core.rag.knowledge import get_knowledge_base, open_retriever
from core.rag.vectorstore import open_collections
from tests.evaluation.pairwise_fixtures import SYSTEMS, answered_run, says
from tests.llm.fake_servers import FakeServer
from tests.rag.rag_fixtures import copy_jinja_sources
from tests.training_fixtures import metric_steps, wait_for, wait_until

pytestmark = pytest.mark.reliability

TRAIN_STEPS, EVAL_ITEMS, PAIRS = 16, 40, 12


@dataclass(frozen=True)
class KillCase:
    kind: str
    start: Callable[[pytest.FixtureRequest], int]  # submits the job; returns its id
    in_flight: Callable[[Any, int], bool]  # (db, job id): the job has done part of its work, time to kill it
    recorded: Callable[[pytest.FixtureRequest, int], Any]  # what the job had saved when it was killed
    check: Callable[[pytest.FixtureRequest, int, Any], None]  # after the resume: all the work, once, nothing lost


def start_training(request) -> int:
    db, training = request.getfixturevalue("db"), request.getfixturevalue("training")
    return submit_training(db, training(max_steps=TRAIN_STEPS, checkpoint_every=4), LOCAL_ADMIN).id


def training_metrics(request, job_id: int) -> dict:
    return {(m.step, m.name): m.value for m in queue.job_metrics(request.getfixturevalue("db"), [job_id])}


def check_training(request, job_id: int, before: dict) -> None:
    db = request.getfixturevalue("db")
    assert set(before) <= set(training_metrics(request, job_id))  # nothing recorded before the kill was lost
    assert metric_steps(db, job_id, "train_loss") == list(range(1, TRAIN_STEPS + 1))  # the curve goes on, no doubles


def start_eval(request) -> int:
    db, model = request.getfixturevalue("db"), request.getfixturevalue("tiny_model_dir")
    import_eval_set(db, "long", "\n".join(json.dumps({"id": f"q{n}", "question": f"Say {n}."})
                                          for n in range(EVAL_ITEMS)), "test", actor=LOCAL_ADMIN)
    return submit_eval(db, "long", [f"local:{model}?dtype=float32"], ["token_f1"],
                       RunOptions(max_new_tokens=24, batch_size=1), actor=LOCAL_ADMIN).job_id


def eval_answers(db, job_id: int) -> dict[str, int]:
    return {answer.item_id: answer.id for answer in results(db, queue.get_job(db, job_id).config["run_id"])}


def check_eval(request, job_id: int, before: dict[str, int]) -> None:
    db = request.getfixturevalue("db")
    after = results(db, queue.get_job(db, job_id).config["run_id"])
    assert len(after) == EVAL_ITEMS and len({a.item_id for a in after}) == EVAL_ITEMS  # each item once
    assert {a.item_id: a.id for a in after if a.item_id in before} == before  # the same rows: not asked again


def start_index(request) -> int:
    db, tmp_path = request.getfixturevalue("db"), request.getfixturevalue("tmp_path")
    source = copy_jinja_sources(tmp_path / "code", ("lexer.py",))
    return submit_index(db, "code", KnowledgeBaseConfig(source_path=str(source)), actor=LOCAL_ADMIN)[1].id


def index_state(request, job_id: int) -> str:
    db = request.getfixturevalue("db")
    with pytest.raises(NotFoundError, match="has no index yet"):  # nothing half-built is served meanwhile
        open_retriever(db, "code")
    return get_knowledge_base(db, "code").status


def check_index(request, job_id: int, status_when_killed: str) -> None:
    db = request.getfixturevalue("db")
    assert status_when_killed == "indexing"
    row = get_knowledge_base(db, "code")
    config = KnowledgeBaseConfig.from_dict(row.config)
    expected = sum(len(chunk_file(f, config, None)) for f in load_source(config).files)
    collections = open_collections()
    vectors = collections.open(collection_name("code", 1), config.embedding_model, config.bfloat16)
    ids = [chunk.id for chunk in vectors.all_chunks()]
    assert row.generation == 1 and row.chunk_count == len(ids) == len(set(ids)) == expected  # none doubled
    assert [c.name for c in collections.client.list_collections()] == [collection_name("code", 1)]  # no leftovers
    assert sorted(open_retriever(db, "code").keywords.ids) == sorted(ids)


def start_pairwise(request) -> int:
    db, judge = request.getfixturevalue("db"), request.getfixturevalue("slow_judge")
    run = answered_run(db, [str(n) for n in range(PAIRS)])
    return submit_pairwise(db, run.id, *SYSTEMS, f"anthropic?base_url={judge.url}&max_retries=0", actor=LOCAL_ADMIN).id


def pairwise_checkpoint(job_id: int) -> list[str]:
    path = job_dir(job_id) / "pairwise-verdicts.jsonl"
    return path.read_text().splitlines() if path.is_file() else []


def pairwise_state(request, job_id: int) -> tuple[list[str], int]:
    """The verdicts kept when the worker was killed, and the judge requests made by then."""
    return pairwise_checkpoint(job_id), len(request.getfixturevalue("slow_judge").requests)


def check_pairwise(request, job_id: int, before: tuple[list[str], int]) -> None:
    db, judge = request.getfixturevalue("db"), request.getfixturevalue("slow_judge")
    judged_before, asked_before = before
    [outcome] = get_run(db, queue.get_job(db, job_id).config["run_id"]).pairwise.values()
    assert sorted(int(v["item_id"]) for v in outcome["verdicts"]) == list(range(PAIRS))  # each pair once
    assert outcome["pairs"] == PAIRS and outcome["failures"] == 0
    assert pairwise_checkpoint(job_id)[:len(judged_before)] == judged_before  # kept, not judged again
    assert len(judge.requests) == asked_before + 2 * (PAIRS - len(judged_before))  # only the pair cut short twice


CASES = [
    KillCase("train", start_training, lambda db, job_id: max(metric_steps(db, job_id, "train_loss"), default=0) >= 6,
             training_metrics, check_training),
    KillCase("eval", start_eval, lambda db, job_id: len(eval_answers(db, job_id)) >= 3,
             lambda request, job_id: eval_answers(request.getfixturevalue("db"), job_id), check_eval),
    KillCase("index", start_index,
             lambda db, job_id: (queue.get_job(db, job_id).progress_text or "").startswith("Embedding"),
             index_state, check_index),
    KillCase("pairwise", start_pairwise, lambda db, job_id: len(pairwise_checkpoint(job_id)) >= 3, pairwise_state,
             check_pairwise),
]


@pytest.fixture
def slow_judge(monkeypatch):
    """A judge slow enough to be killed between verdicts (each order of each pair takes a moment)."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    with FakeServer(says("A", delay_s=0.2)) as server:
        yield server


@pytest.mark.parametrize("case", CASES, ids=[case.kind for case in CASES])
def test_a_killed_worker_is_interrupted_and_resumes_with_nothing_lost_or_doubled(db, request, case):
    job_id = case.start(request)
    wait_for(lambda: case.in_flight(db, job_id) or queue.get_job(db, job_id).status not in queue.ACTIVE,
             f"{case.kind} job {job_id} to be under way", timeout=180)
    assert queue.get_job(db, job_id).status == queue.RUNNING, queue.get_job(db, job_id).error
    signal_worker(queue.get_job(db, job_id).pid, signal.SIGKILL)
    job = wait_until(db, job_id, [queue.INTERRUPTED])
    assert "ended without reporting back" in job.error and "Resume the job" in job.error
    recorded = case.recorded(request, job_id)
    scheduler.resume(db, job_id)
    job = wait_until(db, job_id, [queue.SUCCEEDED, queue.FAILED])
    assert (job.status, job.attempts) == (queue.SUCCEEDED, 2), job.error
    case.check(request, job_id, recorded)
