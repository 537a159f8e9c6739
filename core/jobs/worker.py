"""`python -m core.jobs.worker JOB_ID`: run one claimed job to its end.

The worker records its pid, beats, runs the job's kind, and writes how it
ended. SIGTERM (a cancel) only sets a flag: the kind checkpoints at its next
step boundary and stops. Last, it starts the next queued job, so the queue
moves on with no page open.
"""

from __future__ import annotations

import os
import signal
import sys
import time
import traceback
from typing import Optional, Sequence

from core import cpu_share
from core.errors import LabError, write_failure
from core.jobs import queue
from core.jobs.context import Heartbeat, JobContext
from core.jobs.kinds import JobCancelled, kind_for
from core.jobs.processes import job_dir
from core.jobs.scheduler import refresh
from core.store import current_database
from core.store.tables import utc_now


STOPPED_FROM_OUTSIDE = ("The worker was stopped from outside the lab (a SIGTERM: `ray job stop`, a cluster "
                        "scaling down, the machine shutting down). Resume the job to continue from its last "
                        "checkpoint.")


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1 or not args[0].isdigit():
        print("usage: python -m core.jobs.worker JOB_ID", file=sys.stderr)
        return 2
    db = current_database()
    job = queue.get_job(db, int(args[0]))
    context = JobContext(db, job, job_dir(job.id))
    # Under a launcher its pid stays on the row: it leads the process group a cancel signals.
    own_pid = {} if "WORLD_SIZE" in os.environ else {"pid": os.getpid()}
    if context.is_main and not queue.set_fields(db, job.id, queue.RUNNING, heartbeat_at=utc_now(), **own_pid):
        print(f"job {job.id} is {job.status}, not running: nothing to do", flush=True)
        return 0
    signal.signal(signal.SIGTERM, lambda *_: context.cancel_event.set())
    status = run(context)
    if context.is_main:
        refresh(db)  # a slot is free now
    return 0 if status == queue.SUCCEEDED else 1


def run(context: JobContext) -> str:
    """Run the job's kind and record its end; returns the final status."""
    job, db = context.job, context.db
    heartbeat = Heartbeat(context)
    if context.is_main:
        heartbeat.beat()
        heartbeat.start()
    started = time.monotonic()
    context.log(f"job {job.id} ({job.kind}) attempt {job.attempts} started in pid {os.getpid()}")
    status, error, result = queue.SUCCEEDED, None, {}
    try:
        with cpu_share.computing():  # a job keeps a core busy from its first import to its end
            result = kind_for(job.kind).run(context)
    except JobCancelled as stop:
        status, result = queue.CANCELLED, stop.result
        if not queue.get_job(db, job.id).cancel_requested:  # a SIGTERM nobody asked for through the lab
            status, error = queue.INTERRUPTED, STOPPED_FROM_OUTSIDE
    except LabError as exc:
        status, error = queue.FAILED, str(exc)
    except BaseException as exc:  # the row must say why the job ended, whatever ended it
        traceback.print_exc()
        status = queue.FAILED
        error = write_failure(exc) or f"{type(exc).__name__}: {exc} (the job's log has the traceback)"
    finally:
        heartbeat.stop()
    context.log(f"job {job.id} {status} after {time.monotonic() - started:.1f} s" + (f": {error}" if error else ""))
    if context.is_main:
        values = {"result": {**job.result, **result}} if result else {}
        if status == queue.SUCCEEDED:
            values["progress"] = 1.0
        queue.finish(db, job.id, status, error=error, **values)
    return status


if __name__ == "__main__":
    sys.exit(main())
