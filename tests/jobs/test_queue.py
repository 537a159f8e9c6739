"""Job rows without workers: claiming under contention, cancel and resume rules, metrics."""

from __future__ import annotations

import pytest

from core.errors import InvalidInputError, NotFoundError
from core.jobs import kinds, queue
from core.jobs.processes import worker_command
from core.store import open_database
from tests.jobs.at_once import at_once


def no_worker(job) -> dict:
    return {}


def claim_one(url: str):
    job = queue.claim_next(open_database(url), max_running=1, placement=no_worker)
    return job.id if job else None


def test_processes_claiming_at_once_never_exceed_the_slots(db):
    for _ in range(3):
        queue.submit_job(db, "train", {})
    assert sorted(at_once(claim_one, db.url), key=str) == [1, None, None, None]
    assert [job.status for job in queue.list_jobs(db)] == [queue.QUEUED, queue.QUEUED, queue.RUNNING]


def claim_until_none(url: str) -> list[int]:
    database, claimed = open_database(url), []
    while job := queue.claim_next(database, max_running=100, placement=no_worker):
        claimed.append(job.id)
    return claimed


def test_processes_claiming_a_queue_dry_at_once_claim_each_job_exactly_once(db):
    jobs = [queue.submit_job(db, "train", {}).id for _ in range(40)]
    claimed = at_once(claim_until_none, db.url)
    assert sorted(job for by_one in claimed for job in by_one) == jobs
    assert all(job.attempts == 1 for job in queue.list_jobs(db))


def test_a_queued_job_is_cancelled_at_once_and_a_finished_one_cannot_be(db):
    job = queue.submit_job(db, "train", {})
    assert queue.request_cancel(db, job.id).status == queue.CANCELLED
    with pytest.raises(InvalidInputError, match="only queued or running"):
        queue.request_cancel(db, job.id)
    with pytest.raises(NotFoundError, match="No job 99"):
        queue.request_cancel(db, 99)


def test_only_stopped_jobs_are_requeued_for_resume(db):
    job = queue.submit_job(db, "train", {"training": {}})
    with pytest.raises(InvalidInputError, match="only cancelled, interrupted, failed"):
        queue.requeue_for_resume(db, job.id)
    queue.request_cancel(db, job.id)
    resumed = queue.requeue_for_resume(db, job.id)
    assert resumed.status == queue.QUEUED and resumed.config["resume"] is True


def test_a_repeated_step_replaces_its_metrics(db):
    job = queue.submit_job(db, "train", {})
    queue.record_metrics(db, job.id, 1, {"train_loss": 3.0})
    queue.record_metrics(db, job.id, 2, {"train_loss": 2.5, "validation_loss": 2.7})
    queue.record_metrics(db, job.id, 2, {"train_loss": 2.4})  # the step again, after a resume
    assert [(m.step, m.name, m.value) for m in queue.job_metrics(db, [job.id])] == [
        (1, "train_loss", 3.0), (2, "train_loss", 2.4), (2, "validation_loss", 2.7)]
    assert queue.latest_metrics(db, job.id) == {"train_loss": 2.4, "validation_loss": 2.7}


def test_several_gpus_launch_the_worker_under_accelerate():
    from accelerate.commands.launch import launch_command_parser

    command = worker_command(7, gpus=2)
    assert command[1:3] == ["-m", "accelerate.commands.launch"]
    args = launch_command_parser().parse_args(command[3:])
    assert args.multi_gpu and args.num_processes == 2 and args.module
    assert (args.training_script, args.training_script_args) == ("core.jobs.worker", ["7"])
    assert worker_command(7, gpus=1)[1:] == ["-m", "core.jobs.worker", "7"]


@pytest.mark.parametrize("name", sorted(kinds.KINDS))
def test_each_kind_is_registered_under_its_own_name(name):
    assert kinds.kind_for(name).name == name
