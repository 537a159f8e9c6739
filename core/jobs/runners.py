"""Where a job's worker runs: a process of this machine (`local`, the default), or a job of a Ray
cluster (`RAGTUNE_JOBS=ray://HOST:PORT`, core/jobs/ray_runner.py). Both run the same worker command,
`python -m core.jobs.worker ID`, which reads its row, beats, and records how it ended.

A row keeps the runner that started it, so a job is followed, cancelled and reconciled by the runner
it runs on, whatever the setting says today.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Optional

from core.jobs.kinds import kind_for
from core.jobs.processes import is_worker_alive, job_dir, signal_worker, start_worker, worker_command
from core.settings import get_settings
from core.store.tables import Job

LOCAL = "local"
LOG_TAIL_LINES = 200


class JobRunner(ABC):
    name: str  # kept on the row: "local", or the cluster's address

    def check(self) -> None:
        """Refuse, before a job is queued, what this runner could not run."""

    @abstractmethod
    def placement(self, job: Job) -> dict[str, Any]:
        """What the claim of `job` records: this runner, the worker's command and its log file."""

    @abstractmethod
    def start(self, job: Job) -> dict[str, Any]:
        """Start the worker of a claimed job; returns the row's fields that say where it runs."""

    @abstractmethod
    def is_running(self, job: Job) -> bool:
        """Whether the worker the row names still runs (asked only once its heartbeat is stale)."""

    def nudge(self, job: Job) -> None:
        """Hurry a worker whose row asks it to cancel (it also reads the request at its next beat)."""

    @abstractmethod
    def where(self, job: Job) -> str:
        """Where the job runs, in words: "pid 4242 on this machine"."""

    @abstractmethod
    def log(self, job: Job) -> Optional[str]:
        """The worker's output so far, or None when there is none yet."""


class LocalRunner(JobRunner):
    """A detached process of this machine, in a process group of its own (every rank under accelerate)."""

    name = LOCAL

    def placement(self, job: Job) -> dict[str, Any]:
        return {"runner": self.name, "command": worker_command(job.id, job_gpus(job)),
                "log_path": str(job_dir(job.id) / "worker.log")}

    def start(self, job: Job) -> dict[str, Any]:
        return {"pid": start_worker(job.command, Path(job.log_path))}

    def is_running(self, job: Job) -> bool:
        return is_worker_alive(job.pid, job.id)

    def nudge(self, job: Job) -> None:
        if job.pid:
            signal_worker(job.pid)  # SIGTERM: the worker checkpoints at the end of its current step

    def where(self, job: Job) -> str:
        return f"pid {job.pid} on this machine" if job.pid else "this machine"

    def log(self, job: Job) -> Optional[str]:
        try:
            return Path(job.log_path).read_text(encoding="utf-8", errors="replace") if job.log_path else None
        except OSError:
            return None


def job_gpus(job: Job) -> int:
    return kind_for(job.kind).gpus(job)


def configured_runner() -> JobRunner:
    """The runner new jobs start on (RAGTUNE_JOBS)."""
    return runner_named(get_settings().jobs)


def runner_for(job: Job) -> JobRunner:
    """The runner that started `job`."""
    return runner_named(job.runner)


def runner_named(name: str) -> JobRunner:
    if name == LOCAL:
        return LocalRunner()
    from core.jobs.ray_runner import RayRunner

    return RayRunner(name)


def log_tail(job: Job, lines: int = LOG_TAIL_LINES) -> Optional[str]:
    text = runner_for(job).log(job)
    return None if text is None else "\n".join(text.splitlines()[-lines:])
