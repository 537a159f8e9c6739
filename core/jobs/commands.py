"""`python -m core jobs ...`: follow, cancel and resume background jobs.

Every command reconciles first (a worker that died shows as interrupted) and
starts queued jobs for free slots. Exit codes: 0 done, 2 a `LabError` (bad
id, nothing to resume), and `--wait` style callers get 1 for a job that did
not succeed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Optional

from core.jobs import queue, scheduler
from core.jobs.runners import runner_for
from core.store import current_database
from core.store.tables import Job
from core.subcommands import add_command

POLL_S = 2.0
WATCHED = ("train_loss", "validation_loss", "tokens_per_s")  # what --wait prints as a job runs


def register(subparsers) -> None:
    jobs = subparsers.add_parser("jobs", help="background jobs: training, evaluation, indexing, demo set-ups, "
                                 "merges, datasets written from a knowledge base")
    commands = jobs.add_subparsers(dest="jobs_command", metavar="COMMAND", required=True)
    listing = add_command(commands, "list", "list jobs, newest first", run_list)
    listing.add_argument("--json", action="store_true", help="print the jobs as JSON")
    show = add_command(commands, "show", "a job's status, config, result and last metrics", run_show)
    show.add_argument("id", type=int)
    show.add_argument("--json", action="store_true")
    cancel = add_command(commands, "cancel", "cancel a job (a running one checkpoints, then stops)", run_cancel)
    cancel.add_argument("id", type=int)
    resume = add_command(commands, "resume", "resume a cancelled or interrupted job from its last checkpoint",
                         run_resume)
    resume.add_argument("id", type=int)
    logs = add_command(commands, "logs", "print a job's log", run_logs)
    logs.add_argument("id", type=int)
    logs.add_argument("--tail", type=int, default=0, metavar="N", help="only the last N lines")


def job_summary(db, job: Job) -> dict:
    """What a script needs to know of a job, as JSON-ready values."""
    return {"id": job.id, "kind": job.kind, "status": job.status, "title": job.title, "created_by": job.created_by,
            "pid": job.pid, "progress": round(job.progress, 4), "progress_text": job.progress_text, "error": job.error,
            "adapter": job.result.get("adapter"), "result": job.result, "attempts": job.attempts,
            "last_metrics": queue.latest_metrics(db, job.id), "runs": runner_for(job).where(job),
            "log_path": job.log_path,
            "created_at": _iso(job.created_at), "started_at": _iso(job.started_at),
            "finished_at": _iso(job.finished_at)}


def run_list(args: argparse.Namespace) -> int:
    db = current_database()
    scheduler.refresh(db)
    jobs = queue.list_jobs(db)
    if args.json:
        print(json.dumps([job_summary(db, job) for job in jobs], indent=2))
        return 0
    for job in jobs:
        print(f"{job.id}\t{job.status}\t{job.kind}\t{job.progress:4.0%}\t{job.title}\t{job.created_at:%Y-%m-%d %H:%M}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    db = current_database()
    scheduler.refresh(db)
    job = queue.get_job(db, args.id)
    summary = {**job_summary(db, job), "config": job.config, "command": job.command}
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    for key, value in summary.items():
        if value not in (None, "", {}, []):
            print(f"{key}: {json.dumps(value) if isinstance(value, (dict, list)) else value}")
    return 0


def run_cancel(args: argparse.Namespace) -> int:
    job = scheduler.cancel(current_database(), args.id)
    print(f"job {job.id} {'cancelled' if job.status == queue.CANCELLED else 'stopping at its next step'}")
    return 0


def run_resume(args: argparse.Namespace) -> int:
    job = scheduler.resume(current_database(), args.id)
    print(f"job {job.id} {job.status}")
    return 0


def run_logs(args: argparse.Namespace) -> int:
    job = queue.get_job(current_database(), args.id)
    text = runner_for(job).log(job)
    if text is None:
        print(f"job {job.id} has no log yet ({job.status})", file=sys.stderr)
        return 0
    lines = text.splitlines()
    print("\n".join(lines[-args.tail:] if args.tail else lines))
    return 0


def wait_for(job_id: int, poll_s: float = POLL_S) -> Job:
    """Follow a job to its end, printing its progress to stderr; returns the final row."""
    db = current_database()
    last = ""
    while True:
        scheduler.refresh(db)
        job = queue.get_job(db, job_id)
        metrics = queue.latest_metrics(db, job_id)
        line = f"[{job.status}] {job.progress_text or ''} " + " ".join(
            f"{name}={value:.4g}" for name, value in sorted(metrics.items()) if name in WATCHED)
        if line != last:
            print(line.strip(), file=sys.stderr, flush=True)
            last = line
        if job.status not in queue.ACTIVE:
            return job
        time.sleep(poll_s)


def follow(job_id: int, what: str) -> Optional[Job]:
    """`wait_for` a job: its final row when it succeeded; None, after saying how it ended, otherwise."""
    job = wait_for(job_id)
    if job.status == queue.SUCCEEDED:
        return job
    print(f"{what} {job.status}" + (f": {job.error}" if job.error else ""), file=sys.stderr)
    return None


def _iso(moment) -> str | None:
    return moment.isoformat() if moment else None
