"""Keeping rows and processes in step: reconcile, then fill free slots.

`refresh` runs whenever jobs are read (the page, the CLI) and when a worker
finishes, so a queued job starts as soon as a slot frees, with no page open,
and a row whose process died (SIGKILL, out of memory, a reboot) is marked
interrupted instead of "running" forever.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Optional

from core.errors import InvalidInputError, LabError
from core.jobs import queue
from core.jobs.kinds import kind_for
from core.jobs.runners import configured_runner, runner_for
from core.settings import ENV_PREFIX, get_settings
from core.store import Database
from core.store.tables import Job, as_utc, utc_now

MAX_JOBS_ENV = f"{ENV_PREFIX}MAX_JOBS"
# A claimed row has no worker for the moment between the claim and the process start.
STARTING_GRACE = timedelta(seconds=30)
STALE_BEATS = 3  # a row not stamped for this many heartbeats (RAGTUNE_HEARTBEAT_S) has no worker beating


def max_running_jobs() -> int:
    raw = os.environ.get(MAX_JOBS_ENV, "1")
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:  # int() refuses '²', a digit to isdigit
        raise InvalidInputError(f"{MAX_JOBS_ENV}={raw!r}: set it to how many jobs may run at once (1 or more).")
    return int(raw)


def refresh(db: Database) -> list[Job]:
    """Reconcile dead workers, then start queued jobs while slots are free; returns the jobs started."""
    reconcile(db)
    started = []
    runner = configured_runner()
    while (job := queue.claim_next(db, max_running_jobs(), runner.placement)) is not None:
        started.append(launch(db, job))
    return started


def reconcile(db: Database) -> list[int]:
    """Settle running rows whose worker is gone: interrupted (cancelled, when a cancel was asked for)
    once the heartbeat is stale *and* the process is not running; a row whose worker never started
    goes back to the queue. Returns the ids of the rows it ended."""
    ended = []
    for job in queue.list_jobs(db, statuses=[queue.RUNNING]):
        if _never_started(job):
            queue.unclaim(db, job.id)
        elif _is_stale(job) and not runner_for(job).is_running(job) and queue.finish(db, job.id,
                                                                                      *_unreported_end(job)):
            ended.append(job.id)
    return ended


def _never_started(job: Job) -> bool:
    """Claimed long ago, yet no worker recorded a pid or a beat: the launcher died before spawning it."""
    return job.pid is None and job.heartbeat_at is None and utc_now() - as_utc(job.started_at) > STARTING_GRACE


def _is_stale(job: Job) -> bool:
    last_sign = job.heartbeat_at or job.started_at
    return last_sign is None or utc_now() - as_utc(last_sign) > stale_after()


def stale_after() -> timedelta:
    return timedelta(seconds=STALE_BEATS * get_settings().heartbeat_s)


def _unreported_end(job: Job) -> tuple[str, str]:
    """The status and message of a job whose worker ended without recording how."""
    if job.cancel_requested:  # e.g. the cancel's SIGTERM reached the worker before its handler was set
        return queue.CANCELLED, (f"Cancelled: the worker process (pid {job.pid}) stopped before it could report "
                                 "back. Resume the job to continue from its last checkpoint.")
    return queue.INTERRUPTED, (f"The worker process (pid {job.pid}) ended without reporting back: killed, out of "
                               "memory, or the machine restarted. Resume the job to continue from its last checkpoint.")


def launch(db: Database, job: Job) -> Job:
    """Start the worker of a claimed job (its runner, command and log were recorded with the claim) and
    record where it runs: locally the pid of the launcher, which leads the process group a cancel signals."""
    try:
        where = runner_for(job).start(job)
    except (OSError, LabError) as exc:
        queue.finish(db, job.id, queue.FAILED, error=f"The worker could not be started: {exc}")
        return queue.get_job(db, job.id)
    queue.set_fields(db, job.id, queue.RUNNING, **where)
    return queue.get_job(db, job.id)


def submit(db: Database, kind: str, config: dict, title: str = "", created_by: str = "unknown") -> Job:
    """Queue a job and start it if a slot is free."""
    job_kind = kind_for(kind)
    job_kind.validate(config)
    configured_runner().check()
    job = queue.submit_job(db, kind, config, title, created_by, job_kind.target(config))
    refresh(db)
    return queue.get_job(db, job.id)


def cancel(db: Database, job_id: int) -> Job:
    job = queue.request_cancel(db, job_id)
    if job.status == queue.RUNNING:
        runner_for(job).nudge(job)  # the worker checkpoints at the end of its current step
    return job


def resume(db: Database, job_id: int) -> Job:

    reconcile(db)
    job = queue.get_job(db, job_id)
    problem: Optional[str] = kind_for(job.kind).resume_problem(job)
    if problem and job.status in queue.RESUMABLE:
        raise InvalidInputError(f"Job {job_id} cannot be resumed: {problem}")
    queue.requeue_for_resume(db, job_id)
    refresh(db)
    return queue.get_job(db, job_id)

