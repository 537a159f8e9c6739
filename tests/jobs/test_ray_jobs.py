"""Jobs on a real Ray head (started by the test session on 127.0.0.1): training, evaluation and indexing
finish with their results in the store; a cancel, a `ray job stop` from outside and a head restart each
end the row truthfully, and a resume finishes the work on the cluster. (Each test process has a head of
its own, so restarting it touches no other test.)"""

from __future__ import annotations

import json
import os
import signal

import pytest

from core.access import LOCAL_ADMIN
from core.errors import BackendError, InvalidInputError
from core.evaluation.runs import RunOptions, results, submit_eval
from core.evaluation.sets import import_eval_set
from core.finetune.job import submit_training
from core.jobs import queue, scheduler
from core.jobs.commands import job_summary
from core.jobs.ray_runner import RayRunner, submission_id_of
from core.jobs.runners import log_tail
from core.llm.adapters import get_adapter
from core.rag.config import KnowledgeBaseConfig
from core.rag.index_job import submit_index
from core.rag.knowledge import open_retriever
from core.store.tables import Job
from tests.evaluation.pairwise_fixtures import says
from tests.llm.fake_servers import FakeServer
from tests.rag.rag_fixtures import copy_jinja_sources
from tests.training_fixtures import metric_steps, wait_for, wait_until

QUESTIONS = 40


@pytest.mark.sqlite_only  # the rule is about a SQLite store
def test_a_cluster_that_cannot_run_the_job_is_refused_before_anything_is_queued(db, training, monkeypatch):
    monkeypatch.setenv("RAGTUNE_JOBS", "http://10.0.0.9:8265")  # never contacted: refused before that
    with pytest.raises(InvalidInputError, match="a SQLite file is reachable only from this machine"):
        submit_training(db, training(), LOCAL_ADMIN)
    with pytest.raises(BackendError, match="The Ray cluster at http://127.0.0.1:9 does not answer"):
        RayRunner("http://127.0.0.1:9").check()
    assert queue.list_jobs(db) == []


@pytest.mark.slow
def test_a_training_job_runs_on_the_cluster_and_its_adapter_and_curves_land_in_the_store(db, training, ray_jobs):
    job = submit_training(db, training(), LOCAL_ADMIN)
    assert (job.runner, job.runner_ref, job.command[0]) == (ray_jobs.address, submission_id_of(job), "python")
    assert job.runner_ref.endswith(f"-job-{job.id}-attempt-1")
    job = wait_until(db, job.id, [queue.SUCCEEDED, queue.FAILED])
    assert job.status == queue.SUCCEEDED, f"{job.error}\n{log_tail(job)}"
    assert metric_steps(db, job.id, "train_loss") == [1, 2, 3, 4, 5, 6]
    assert get_adapter(db, "tiny-adapter").job_id == job.id
    assert job_summary(db, job)["runs"] == f"Ray job {job.runner_ref} on {ray_jobs.address}"
    assert f"job {job.id} (train) attempt 1 started" in log_tail(job)


@pytest.mark.slow
def test_an_index_job_runs_on_the_cluster(db, tmp_path, ray_jobs):
    source = copy_jinja_sources(tmp_path / "code", ("lexer.py",))
    _, job = submit_index(db, "code", KnowledgeBaseConfig(source_path=str(source)), actor=LOCAL_ADMIN)
    job = wait_until(db, job.id, [queue.SUCCEEDED, queue.FAILED])
    assert job.status == queue.SUCCEEDED, f"{job.error}\n{log_tail(job)}"
    assert open_retriever(db, "code").search("tokenize the template source", k=3)


@pytest.fixture
def slow_eval(db, monkeypatch):
    """An eval run on a fake Claude slow enough to stop mid-run; returns its job's id."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    with FakeServer(says("A", delay_s=0.4)) as server:
        import_eval_set(db, "long", "\n".join(json.dumps({"id": f"q{n}", "question": f"Say {n}."})
                                              for n in range(QUESTIONS)), "test", actor=LOCAL_ADMIN)
        yield lambda: submit_eval(db, "long", [f"anthropic?base_url={server.url}&max_retries=0"], ["token_f1"],
                                  RunOptions(batch_size=1), actor=LOCAL_ADMIN).job_id


def answered(db, job_id: int) -> list[str]:
    return [answer.item_id for answer in results(db, queue.get_job(db, job_id).config["run_id"])]


def answers_a_few_more(db, job_id: int) -> None:
    """Wait until the running job has answered three more questions than it had when asked."""
    target = len(answered(db, job_id)) + 3
    wait_for(lambda: len(answered(db, job_id)) >= target or queue.get_job(db, job_id).status not in queue.ACTIVE,
             f"job {job_id} to answer {target} questions", timeout=300)
    job = queue.get_job(db, job_id)
    assert job.status == queue.RUNNING, f"{job.status}: {job.error}\n{log_tail(job)}"


@pytest.mark.slow
def test_a_cancel_a_ray_job_stop_and_a_head_restart_each_end_the_row_truthfully_and_resume_finishes(
        db, ray_jobs, slow_eval):
    job_id = slow_eval()
    answers_a_few_more(db, job_id)
    scheduler.cancel(db, job_id)  # read by the worker at its next beat: no signal crosses to the cluster
    assert wait_until(db, job_id, [queue.CANCELLED, queue.SUCCEEDED]).status == queue.CANCELLED

    job = scheduler.resume(db, job_id)
    assert job.runner_ref.endswith(f"-job-{job_id}-attempt-2")
    answers_a_few_more(db, job_id)
    from ray.job_submission import JobSubmissionClient

    JobSubmissionClient(ray_jobs.address).stop_job(job.runner_ref)  # someone stops it with Ray's own tools
    job = wait_until(db, job_id, [queue.INTERRUPTED, queue.CANCELLED, queue.SUCCEEDED])
    assert job.status == queue.INTERRUPTED and "stopped from outside the lab" in job.error

    scheduler.resume(db, job_id)
    answers_a_few_more(db, job_id)
    os.kill(queue.get_job(db, job_id).pid, signal.SIGKILL)  # the worker and the head go, as when their machine
    ray_jobs.stop()  # restarts (a worker that outlived its head would beat on and finish its job)
    ray_jobs.start()
    job = wait_until(db, job_id, [queue.INTERRUPTED, queue.SUCCEEDED, queue.FAILED])
    assert job.status == queue.INTERRUPTED and "ended without reporting back" in job.error

    scheduler.resume(db, job_id)  # submitted to the restarted head, which never heard of it
    job = wait_until(db, job_id, [queue.SUCCEEDED, queue.FAILED], timeout=300)
    assert (job.status, job.attempts) == (queue.SUCCEEDED, 4), job.error
    assert sorted(answered(db, job_id)) == sorted(f"q{n}" for n in range(QUESTIONS))  # each once, none lost


def test_two_stores_jobs_of_the_same_id_get_different_submissions(monkeypatch):
    job = Job(id=1, kind="eval", attempts=1)
    monkeypatch.setenv("DATABASE_URL", "sqlite:////srv/lab-a/lab.db")
    first = submission_id_of(job)
    monkeypatch.setenv("DATABASE_URL", "sqlite:////srv/lab-b/lab.db")
    assert first != submission_id_of(job) and first.endswith("-job-1-attempt-1")  # one cluster, two labs
