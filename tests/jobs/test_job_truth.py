"""A job row that tells the truth: one active job per kind and target, the command and log recorded with
the claim, a claim whose worker never started goes back to the queue, `interrupted` only once the
heartbeat is stale and the process gone, and a worker whose row moved on stops."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

import pytest

from core.access import LOCAL_ADMIN
from core.errors import InvalidInputError
from core.evaluation.pairwise import submit_pairwise
from core.jobs import queue, scheduler
from core.jobs.processes import WORKER_MODULE
from core.processes import undistributed
from core.store import open_database
from core.store.tables import utc_now
from tests.evaluation.pairwise_fixtures import SYSTEMS, answered_run, says
from tests.jobs.at_once import at_once
from tests.llm.fake_servers import FakeServer
from tests.training_fixtures import wait_for, wait_until


def placed(job) -> dict:
    return {"command": ["worker", str(job.id)], "log_path": f"/logs/{job.id}.log"}


def test_a_second_job_on_the_same_target_is_refused_and_names_the_first(db):
    first = queue.submit_job(db, "index", {}, "re-index docs", target="knowledge base docs")
    with pytest.raises(InvalidInputError, match=rf"Job {first.id} \(re-index docs\) is queued on knowledge base docs"):
        queue.submit_job(db, "index", {}, "re-index docs", target="knowledge base docs")
    queue.submit_job(db, "index", {}, target="knowledge base notes")  # another target
    queue.submit_job(db, "merge", {}, target="knowledge base docs")  # another kind
    queue.request_cancel(db, first.id)
    second = queue.submit_job(db, "index", {}, target="knowledge base docs")  # the first ended
    with pytest.raises(InvalidInputError, match=rf"Job {second.id} .* is queued on knowledge base docs"):
        queue.requeue_for_resume(db, first.id)  # resuming it would make two


def submit_one(url: str):
    try:
        return queue.submit_job(open_database(url), "index", {}, target="knowledge base docs").id
    except InvalidInputError:
        return None


def test_processes_submitting_on_one_target_at_once_make_one_job(db):
    made = at_once(submit_one, db.url)
    assert sum(job is not None for job in made) == 1 and len(queue.list_jobs(db)) == 1


def test_the_claim_records_the_command_and_log_and_a_worker_that_never_started_is_requeued(db):
    job = queue.submit_job(db, "train", {})
    claimed = queue.claim_next(db, 1, placed)
    assert (claimed.command, claimed.log_path, claimed.pid, claimed.attempts) == (["worker", str(job.id)],
                                                                                 f"/logs/{job.id}.log", None, 1)
    scheduler.reconcile(db)
    assert queue.get_job(db, job.id).status == queue.RUNNING  # within the grace a launcher has to start it
    queue.set_fields(db, job.id, started_at=utc_now() - scheduler.STARTING_GRACE - timedelta(seconds=1))
    assert scheduler.reconcile(db) == []
    job = queue.get_job(db, job.id)
    assert (job.status, job.attempts, job.error) == (queue.QUEUED, 0, None)  # never ran: not interrupted


def dead_pid() -> int:
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(finished.stdout)


@pytest.mark.parametrize("pid", [None, 1], ids=["a process that ended", "a pid that is no worker"])
def test_a_row_is_interrupted_only_once_its_heartbeat_is_stale_and_its_process_is_gone(db, pid):
    job = queue.submit_job(db, "train", {})
    queue.claim_next(db, 1, placed)
    queue.set_fields(db, job.id, pid=pid or dead_pid(), heartbeat_at=utc_now())
    assert scheduler.reconcile(db) == []  # the worker beat a moment ago: a pid check alone proves nothing
    queue.set_fields(db, job.id, heartbeat_at=utc_now() - scheduler.stale_after() - timedelta(seconds=1))
    assert scheduler.reconcile(db) == [job.id]
    job = queue.get_job(db, job.id)
    assert job.status == queue.INTERRUPTED and "ended without reporting back" in job.error


def test_a_stale_row_whose_worker_still_runs_stays_running(db):
    job = queue.submit_job(db, "train", {})
    queue.claim_next(db, 1, placed)
    sleeper = [sys.executable, "-c", "import time; time.sleep(120)", WORKER_MODULE, str(job.id)]
    with subprocess.Popen(sleeper) as stand_in:
        try:  # a live process with the worker's command line and the job's id: a worker busy in one long step
            wait_for(lambda: stand_in.pid and os.path.exists(f"/proc/{stand_in.pid}"), "the stand-in to start")
            queue.set_fields(db, job.id, pid=stand_in.pid, heartbeat_at=utc_now() - scheduler.stale_after() * 2)
            assert scheduler.reconcile(db) == []
        finally:
            stand_in.kill()


def test_a_process_started_by_a_rank_does_not_inherit_the_launch():
    launched = {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500",
                "ACCELERATE_MIXED_PRECISION": "no", "TORCHELASTIC_RUN_ID": "x", "PATH": "/bin", "RAGTUNE_X": "1"}
    assert undistributed(launched) == {"PATH": "/bin", "RAGTUNE_X": "1"}


@pytest.mark.sqlite_only  # a real worker; the rule itself is checked on both stores above
def test_a_worker_whose_row_is_no_longer_running_stops_and_leaves_the_row_as_it_is(db, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    with FakeServer(says("A", delay_s=0.3)) as judge:
        run = answered_run(db, [str(n) for n in range(20)])
        job = submit_pairwise(db, run.id, *SYSTEMS, f"anthropic?base_url={judge.url}&max_retries=0", actor=LOCAL_ADMIN)
        wait_for(lambda: len(judge.requests) >= 2, "the judge to be asked", timeout=120)
        worker = queue.get_job(db, job.id).pid
        queue.finish(db, job.id, queue.INTERRUPTED, error="reconciled by another process")
        wait_for(lambda: not os.path.exists(f"/proc/{worker}") or _is_zombie(worker), "the worker to stop",
                 timeout=60)
        asked = len(judge.requests)
    job = wait_until(db, job.id, [queue.INTERRUPTED])
    assert job.error == "reconciled by another process"  # the worker did not overwrite how the row ended
    assert asked < 40  # it stopped before judging every pair in both orders
    assert "no longer running: this worker stops" in open(job.log_path).read()


def _is_zombie(pid: int) -> bool:
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(")")[-1].split()[0] == "Z"
