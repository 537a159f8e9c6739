"""The lab's background processes (job workers, the model server): how one starts,
and whether a pid is still the process it was."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Mapping, Optional, Sequence

import psutil

from core.project import PROJECT_ROOT


# What a distributed launcher (accelerate, torchrun) tells its ranks: a process started by one of them
# (a finishing worker starts the next job) must not believe it is a rank of that launch.
DISTRIBUTED_VARIABLES = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "GROUP_RANK", "ROLE_RANK",
                         "ROLE_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
DISTRIBUTED_PREFIXES = ("ACCELERATE_", "TORCHELASTIC_")


def spawn_detached(command: Sequence[str], log_path: Path,
                   environment: Optional[Mapping[str, str]] = None) -> subprocess.Popen:
    """Start `command` from the project root in a session of its own (a Streamlit restart or
    a Ctrl-C in the terminal that started it does not reach it), its output appended to
    `log_path`, in `environment` (by default `background_environment()`)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        return subprocess.Popen(list(command), cwd=PROJECT_ROOT, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                env=dict(background_environment() if environment is None else environment))


def background_environment() -> dict[str, str]:
    """This process's environment as a background process gets it: it computes in its own process,
    never through the model server, never downloads from the Hugging Face hub, and its output reaches its
    log as it is printed."""
    return {**undistributed(os.environ), "PYTHONUNBUFFERED": "1", "RAGTUNE_MODEL_SERVER": "off",
            "HF_HUB_OFFLINE": "1"}


def undistributed(environment: Mapping[str, str]) -> dict[str, str]:
    """`environment` without what a distributed launcher set for its ranks."""
    return {name: value for name, value in environment.items()
            if name not in DISTRIBUTED_VARIABLES and not name.startswith(DISTRIBUTED_PREFIXES)}


def live_command(pid: int) -> Optional[list[str]]:
    """The command line of process `pid`, or None when it is gone or a zombie."""
    process = _live(pid)
    try:
        return None if process is None else process.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def live_name(pid: int) -> Optional[str]:
    """The name of process `pid` (what it renamed itself to, if it did), or None when it is gone or a zombie."""
    process = _live(pid)
    try:
        return None if process is None else process.name()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def _live(pid: int) -> Optional[psutil.Process]:
    try:
        process = psutil.Process(pid)
        return None if process.status() == psutil.STATUS_ZOMBIE else process
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def reap(pid: int) -> None:
    """Collect the exit status of a process this one started, so it is not left a zombie."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
