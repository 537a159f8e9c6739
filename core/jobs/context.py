"""What a running job sees of the machinery: report progress and metrics, ask
whether to stop. Only the main process of a job writes (under `accelerate
launch` every rank runs the kind's code; ranks other than 0 stay silent)."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from core.access import Actor, Role
from core.jobs import queue
from core.jobs.kinds import JobCancelled
from core.settings import get_settings
from core.store import Database
from core.store.tables import Job


@dataclass
class JobContext:
    db: Database
    job: Job
    work_dir: Path
    cancel_event: threading.Event = field(default_factory=threading.Event)
    is_main: bool = field(default_factory=lambda: os.environ.get("RANK", "0") == "0")

    @property
    def config(self) -> dict[str, Any]:
        return self.job.config

    @property
    def resuming(self) -> bool:
        return bool(self.job.config.get("resume"))

    def submitter(self, role: Role) -> Actor:
        """Who submitted the job, acting with `role`: the role its submit function required of them
        (checked there), so what the job makes is theirs."""
        return Actor(self.job.created_by, role)

    def cancel_requested(self) -> bool:
        return self.cancel_event.is_set()

    def progress(self, fraction: float, text: str = "") -> None:
        if self.is_main:
            queue.set_fields(self.db, self.job.id, progress=min(max(fraction, 0.0), 1.0), progress_text=text)

    def reporter(self, stopped: dict[str, Any]) -> Callable[[str, float], None]:
        """A `(what, fraction)` progress callback for work that reports as it goes (indexing, a demo's
        steps): it records progress and, once a cancel is asked for, raises `JobCancelled(stopped)`,
        so the work stops at its next report."""
        def report(text: str, fraction: float) -> None:
            if self.cancel_requested():
                raise JobCancelled(stopped)
            self.progress(fraction, text)
        return report

    def metrics(self, step: int, values: dict[str, float]) -> None:
        if self.is_main:
            queue.record_metrics(self.db, self.job.id, step, values)

    def log(self, message: str) -> None:
        """A line in the job's log (the worker's stdout goes there)."""
        if self.is_main:
            print(message, flush=True)


class Heartbeat(threading.Thread):
    """Stamps the row every few seconds and turns a cancel written to the row
    (by another process) into the context's cancel event. It never touches torch."""

    def __init__(self, context: JobContext):
        super().__init__(name=f"job-{context.job.id}-heartbeat", daemon=True)
        self.context, self.interval_s = context, get_settings().heartbeat_s
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.interval_s):
            self.beat()

    def beat(self) -> None:
        try:
            row = queue.heartbeat(self.context.db, self.context.job.id)
        except Exception as exc:  # a busy database must not kill the job; the next beat retries
            print(f"heartbeat failed: {exc}", flush=True)
            return
        if row.status != queue.RUNNING:  # reconciled or cancelled meanwhile: another worker may resume it
            self.context.log(f"job {row.id} is {row.status}, no longer running: this worker stops")
        if row.cancel_requested or row.status != queue.RUNNING:
            self.context.cancel_event.set()

    def stop(self) -> None:
        self.stopped.set()
