"""Job rows: submit, claim, cancel, resume, metrics. Safe for several processes.

Every change of status is one conditional UPDATE (`... WHERE status = ...`)
whose row count says whether this process won; claiming a job also counts the
running ones inside the same write transaction, so two processes filling the
last free slot never both start a job.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Callable, Iterable, Optional, Sequence

from sqlalchemy import func, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from core.errors import InvalidInputError, NotFoundError
from core.store import Database
from core.store.tables import Job, JobMetric, as_utc, utc_now

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED, INTERRUPTED = (
    "queued", "running", "succeeded", "failed", "cancelled", "interrupted")
ACTIVE = (QUEUED, RUNNING)
RESUMABLE = (CANCELLED, INTERRUPTED, FAILED)


def submit_job(db: Database, kind: str, config: dict[str, Any], title: str = "", created_by: str = "unknown",
               target: Optional[str] = None) -> Job:
    """A queued job; refused while another job of `kind` is queued or running on the same `target`
    (checked in the write transaction, so two requests at once cannot both pass)."""
    with db.session(immediate=True) as session:
        _refuse_if_busy(session, kind, target)
        job = Job(kind=kind, config=config, title=title or kind, created_by=created_by, target=target)
        session.add(job)
    return job


def _refuse_if_busy(session: Session, kind: str, target: Optional[str], job_id: Optional[int] = None) -> None:
    if target is None:
        return
    busy = session.exec(select(Job).where(Job.kind == kind, Job.target == target, col(Job.status).in_(ACTIVE),
                                          Job.id != (job_id or 0)).limit(1)).first()
    if busy is not None:
        raise InvalidInputError(f"Job {busy.id} ({busy.title}) is {busy.status} on {target} already: follow it, "
                                "or cancel it first.")


def get_job(db: Database, job_id: int) -> Job:
    with db.session(immediate=False) as session:
        job = session.get(Job, job_id)
    if job is None:
        raise _no_job(job_id)
    return job


def _no_job(job_id: int) -> NotFoundError:
    return NotFoundError(f"No job {job_id}: `python -m core jobs list` shows the jobs.")


def list_jobs(db: Database, kind: Optional[str] = None, statuses: Sequence[str] = (), limit: int = 200) -> list[Job]:
    """Newest first."""
    query = select(Job).order_by(col(Job.id).desc()).limit(limit)
    if kind:
        query = query.where(Job.kind == kind)
    if statuses:
        query = query.where(col(Job.status).in_(statuses))
    with db.session(immediate=False) as session:
        return list(session.exec(query))


def recent_jobs(db: Database, kind: str, hours: float = 1.0, limit: int = 20) -> list[Job]:
    """Jobs of `kind` still going, and those that ended within `hours`, newest first."""
    since = utc_now() - timedelta(hours=hours)
    return [job for job in list_jobs(db, kind=kind, limit=limit)
            if job.status in ACTIVE or (job.finished_at and as_utc(job.finished_at) >= since)]


def claim_next(db: Database, max_running: int, placement: Callable[[Job], dict[str, Any]]) -> Optional[Job]:
    """Mark the oldest queued job running if fewer than `max_running` run; None otherwise. The claim
    records where and how its worker runs (`placement(job)`: runner, command, log), so a row never
    runs without them."""
    with db.session(immediate=True) as session:
        running = session.exec(select(func.count()).select_from(Job).where(Job.status == RUNNING)).one()
        if running >= max_running:
            return None
        job = session.exec(select(Job).where(Job.status == QUEUED).order_by(Job.id).limit(1)).first()
        if job is None:
            return None
        for field, value in placement(job).items():
            setattr(job, field, value)
        job.status, job.started_at, job.heartbeat_at, job.pid = RUNNING, utc_now(), None, None
        job.attempts += 1
        session.add(job)
    return job


def unclaim(db: Database, job_id: int) -> bool:
    """Put back a claimed job whose worker never started (its launcher died first): it was never run."""
    with db.session(immediate=True) as session:
        job = session.get(Job, job_id)
        if job is None or job.status != RUNNING or job.pid is not None or job.heartbeat_at is not None:
            return False
        job.status, job.started_at, job.attempts = QUEUED, None, job.attempts - 1
        session.add(job)
    return True


def set_fields(db: Database, job_id: int, expected_status: Optional[str] = None, **values) -> bool:
    """Update a job's columns, only while it has `expected_status` when given; True if it did."""
    statement = update(Job).where(col(Job.id) == job_id).values(**values)
    if expected_status:
        statement = statement.where(col(Job.status) == expected_status)
    with db.session() as session:
        return session.exec(statement).rowcount == 1  # type: ignore[call-overload]


def finish(db: Database, job_id: int, status: str, error: Optional[str] = None, **values) -> bool:
    """Record how a running job ended (a reconciled row may have moved on: then nothing changes)."""
    return set_fields(db, job_id, RUNNING, status=status, error=error, finished_at=utc_now(), pid=None, **values)


def request_cancel(db: Database, job_id: int) -> Job:
    """A queued job is cancelled at once; a running one is asked to checkpoint and stop."""
    job = get_job(db, job_id)
    if job.status == QUEUED and set_fields(db, job_id, QUEUED, status=CANCELLED, finished_at=utc_now()):
        return get_job(db, job_id)
    if job.status == RUNNING:
        set_fields(db, job_id, RUNNING, cancel_requested=True)
        return get_job(db, job_id)
    raise InvalidInputError(f"Job {job_id} is {job.status}: only queued or running jobs can be cancelled.")


def requeue_for_resume(db: Database, job_id: int) -> Job:
    with db.session(immediate=True) as session:
        job = session.get(Job, job_id)
        if job is None:
            raise _no_job(job_id)
        if job.status not in RESUMABLE:
            raise InvalidInputError(
                f"Job {job_id} is {job.status}: only {', '.join(RESUMABLE)} jobs can be resumed.")
        _refuse_if_busy(session, job.kind, job.target, job.id)
        job.config = {**job.config, "resume": True}
        job.status, job.cancel_requested, job.error, job.finished_at = QUEUED, False, None, None
        session.add(job)
    return get_job(db, job_id)


def heartbeat(db: Database, job_id: int) -> Job:
    """Tell readers the worker is alive; returns the row as it is now, so the worker sees a cancel, or
    that its row is no longer running (reconciled, or resumed elsewhere) and it must stop."""
    set_fields(db, job_id, RUNNING, heartbeat_at=utc_now())
    return get_job(db, job_id)


def record_metrics(db: Database, job_id: int, step: int, values: dict[str, float],
                   at: Optional[datetime] = None) -> None:
    """One row per (job, step, name); a step repeated after a resume replaces its numbers."""
    rows = [{"job_id": job_id, "step": step, "name": name, "value": float(value), "recorded_at": at or utc_now()}
            for name, value in values.items() if value is not None]
    if not rows:
        return
    statement = _upsert_dialect(db).insert(JobMetric).values(rows)
    statement = statement.on_conflict_do_update(
        index_elements=["job_id", "step", "name"],
        set_={"value": statement.excluded.value, "recorded_at": statement.excluded.recorded_at})
    with db.session() as session:
        session.exec(statement)  # type: ignore[call-overload]


def job_metrics(db: Database, job_ids: Iterable[int]) -> list[JobMetric]:
    ids = list(job_ids)
    with db.session(immediate=False) as session:
        return list(session.exec(select(JobMetric).where(col(JobMetric.job_id).in_(ids))
                                 .order_by(JobMetric.job_id, JobMetric.step, JobMetric.name)))


def latest_metrics(db: Database, job_id: int) -> dict[str, float]:
    """Each metric's value at its last recorded step."""
    query = text("""SELECT name, value FROM job_metrics m WHERE job_id = :job AND step =
                    (SELECT MAX(step) FROM job_metrics WHERE job_id = m.job_id AND name = m.name)""")
    with db.session(immediate=False) as session:
        return {name: value for name, value in session.connection().execute(query, {"job": job_id})}


def _upsert_dialect(db: Database):
    return postgresql if db.is_postgresql else sqlite
