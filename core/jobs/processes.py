"""Worker processes: the command that runs a job, starting it, signalling it,
and telling whether the process a row names is still that job's worker."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Optional

from core.launcher import launch
from core.processes import background_environment, live_command, live_name, reap, spawn_detached
from core.settings import get_settings

WORKER_MODULE = "core.jobs.worker"


def job_dir(job_id: int) -> Path:
    """Everything a job writes: its log, checkpoints, what it produces before it is moved into place."""
    return get_settings().data_dir / "jobs" / str(job_id)


def worker_command(job_id: int, gpus: int = 0, python: str = sys.executable) -> list[str]:
    """`python -m core.jobs.worker ID`; with several GPUs, under `accelerate launch`,
    one process per GPU (the job's kind decides whether it uses them)."""
    if gpus > 1:
        return [python, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(gpus),
                "-m", WORKER_MODULE, str(job_id)]
    return [python, "-m", WORKER_MODULE, str(job_id)]


def process_name(job_id: int) -> str:
    """What a worker forked by the warm launcher is called."""
    return f"rtjob-{job_id}"


def start_worker(command: list[str], log_path: Path) -> int:
    """Start the worker in the background, forked by the warm launcher when one answers (core.launcher);
    returns its pid. Workers generate in their own main thread, never through the model server."""
    environment = background_environment()
    return (launch(command, log_path, environment, process_name(int(command[-1])))
            or spawn_detached(command, log_path, environment).pid)


def is_worker_alive(pid: Optional[int], job_id: int) -> bool:
    """True while `pid` is a live worker of `job_id`: a pid the system reused for
    another program, or a finished worker not yet reaped (a zombie), is not."""
    if not pid:
        return False
    reap(pid)
    if live_name(pid) == process_name(job_id):  # forked by the launcher
        return True
    command = live_command(pid)
    return command is not None and WORKER_MODULE in command and str(job_id) in command


def signal_worker(pid: int, sig: int = signal.SIGTERM) -> None:
    """Signal the worker's whole process group (all ranks under accelerate)."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
