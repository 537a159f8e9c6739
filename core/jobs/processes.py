"""Worker processes: the command that runs a job, starting it, signalling it,
and telling whether the process a row names is still that job's worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Optional

import psutil

from core.settings import get_settings

WORKER_MODULE = "core.jobs.worker"
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def job_dir(job_id: int) -> Path:
    """Everything a job writes: its log, checkpoints, what it produces before it is moved into place."""
    return get_settings().data_dir / "jobs" / str(job_id)


def worker_command(job_id: int, gpus: int = 0) -> list[str]:
    """`python -m core.jobs.worker ID`; with several GPUs, under `accelerate launch`,
    one process per GPU (the job's kind decides whether it uses them)."""
    if gpus > 1:
        return [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(gpus),
                "-m", WORKER_MODULE, str(job_id)]
    return [sys.executable, "-m", WORKER_MODULE, str(job_id)]


def start_worker(command: list[str], log_path: Path) -> int:
    """Start the worker in a session of its own (a Streamlit restart or a Ctrl-C in
    the terminal that launched it does not reach it); returns its pid. Workers
    generate in their own main thread, never through the model server."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(command, cwd=PROJECT_ROOT, stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True,
                                   env={**os.environ, "PYTHONUNBUFFERED": "1", "RAGTUNE_MODEL_SERVER": "off"})
    return process.pid


def is_worker_alive(pid: Optional[int], job_id: int) -> bool:
    """True while `pid` is a live worker of `job_id`: a pid the system reused for
    another program, or a finished worker not yet reaped (a zombie), is not."""
    if not pid:
        return False
    _reap(pid)
    command = live_command(pid)
    return command is not None and WORKER_MODULE in command and str(job_id) in command


def live_command(pid: int) -> Optional[list[str]]:
    """The command line of process `pid`, or None when it is gone or a zombie."""
    try:
        process = psutil.Process(pid)
        return None if process.status() == psutil.STATUS_ZOMBIE else process.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def signal_worker(pid: int, sig: int = signal.SIGTERM) -> None:
    """Signal the worker's whole process group (all ranks under accelerate)."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _reap(pid: int) -> None:
    """Collect the exit status of a worker this process started, so it is not left a zombie."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
