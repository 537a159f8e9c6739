"""The lab's background processes (job workers, the model server): how one starts,
and whether a pid is still the process it was."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Optional, Sequence

import psutil

from core.project import PROJECT_ROOT


def spawn_detached(command: Sequence[str], log_path: Path) -> subprocess.Popen:
    """Start `command` from the project root in a session of its own (a Streamlit restart or
    a Ctrl-C in the terminal that started it does not reach it), its output appended to
    `log_path`. It computes in its own process, never through the model server."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        return subprocess.Popen(list(command), cwd=PROJECT_ROOT, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                env={**os.environ, "PYTHONUNBUFFERED": "1", "RAGTUNE_MODEL_SERVER": "off"})


def live_command(pid: int) -> Optional[list[str]]:
    """The command line of process `pid`, or None when it is gone or a zombie."""
    try:
        process = psutil.Process(pid)
        return None if process.status() == psutil.STATUS_ZOMBIE else process.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None
