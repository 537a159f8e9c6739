"""Finding, starting and stopping the model server of a data dir.

One server per data dir. It records its address and pid in
`<data_dir>/model-server.json` (written temp-then-rename); a record counts only
while its pid is a live `core serve` process and answers `/health` with that
pid, so a crashed server, a reused pid or a port taken by another program is
detected and the record replaced. Starting happens under a file lock: two
browser sessions asking at once start one server. A recorded server whose
process lives but does not answer is killed before another starts (it may
still hold models): two servers never hold models at once.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import sys
import time
import urllib.request
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator, Optional, Sequence

import psutil

from core.errors import BackendError
from core.launcher import launch
from core.processes import background_environment, live_command, live_name, reap, spawn_detached
from core.settings import get_settings

RECORD_NAME = "model-server.json"
LOG_NAME = "model-server.log"
START_TIMEOUT_S = 180.0
HEALTH_TIMEOUT_S = 2.0
HUNG_AFTER_S = 5.0  # a live server process that does not answer /health for this long counts as hung
STOP_GRACE_S = 30.0  # to finish the batch it generates


@dataclass(frozen=True)
class ServerRecord:
    pid: int
    host: str
    port: int
    started_at: float
    parent_pid: Optional[int] = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


def record_path() -> Path:
    return get_settings().data_dir / RECORD_NAME


def log_path() -> Path:
    return get_settings().data_dir / LOG_NAME


def write_record(record: ServerRecord) -> None:
    path = record_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(json.dumps(asdict(record)), encoding="utf-8")
    partial.replace(path)


def read_record() -> Optional[ServerRecord]:
    """The recorded server, or None when there is no readable record."""
    try:
        return ServerRecord(**json.loads(record_path().read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def remove_record(pid: int) -> None:
    """Remove the record if it is still `pid`'s (never a newer server's)."""
    record = read_record()
    if record is not None and record.pid == pid:
        record_path().unlink(missing_ok=True)


def running_server() -> Optional[ServerRecord]:
    """The data dir's server if it runs and answers, else None."""
    record = read_record()
    return record if record is not None and is_serving(record) else None


def is_serving(record: ServerRecord) -> bool:
    return _is_server_process(record.pid) and health(record.url).get("pid") == record.pid


def health(url: str, timeout: float = HEALTH_TIMEOUT_S) -> dict:
    """The server's `/health` answer, or {} when nothing answers there."""
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=timeout) as response:
            return json.loads(response.read())
    except (OSError, ValueError):
        return {}


SERVER_NAME = "rtserve"  # what a server forked by the warm launcher (core.launcher) is called


def _is_server_process(pid: int) -> bool:
    if live_name(pid) == SERVER_NAME:
        return True
    command = live_command(pid)
    return command is not None and "core" in command and "serve" in command


def server_process(record: Optional[ServerRecord]) -> Optional[psutil.Process]:
    """The live process of the recorded server, answering or not; None when it is gone
    (a pid reused since, even by another server, is a process started after the record)."""
    if record is None or not _is_server_process(record.pid):
        return None
    try:
        process = psutil.Process(record.pid)
        # create_time is rounded to the boot time's whole second: allow one.
        return process if process.create_time() <= record.started_at + 1 else None
    except psutil.NoSuchProcess:
        return None


def ensure_server(timeout: float = START_TIMEOUT_S) -> ServerRecord:
    """The running server, started in the background first if there is none (a hung
    one is killed first)."""
    record = running_server()
    if record is not None:
        return record
    with _start_lock():
        record = read_record()
        process = server_process(record)
        if process is not None:
            if health(record.url, timeout=HUNG_AFTER_S).get("pid") == record.pid:
                return record  # slow to answer, but serving
            _end(process, grace_s=0)
            remove_record(record.pid)
        return start_server(timeout=timeout)


@contextmanager
def _start_lock() -> Iterator[None]:
    path = record_path().with_suffix(".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def server_command(parent_pid: int, options: Sequence[str] = ()) -> list[str]:
    """The command that starts a server on a free port for this data dir; it
    exits once `parent_pid` is gone and it has been idle a while."""
    return [sys.executable, "-m", "core", "serve", "--port", "0", "--parent-pid", str(parent_pid), *options]


def start_server(options: Sequence[str] = (), timeout: float = START_TIMEOUT_S) -> ServerRecord:
    """Start a server in the background (more `core serve` options may follow) and
    wait until it answers; its output goes to `<data_dir>/model-server.log`."""
    log, command, environment = log_path(), server_command(os.getpid(), options), background_environment()
    pid = launch(command, log, environment, SERVER_NAME) or spawn_detached(command, log, environment).pid
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reap(pid)
        if not _is_server_process(pid):
            raise BackendError(f"The local model server exited at start: {_tail(log)} (full log: {log})")
        record = read_record()
        if record is not None and record.pid == pid and is_serving(record):
            return record
        time.sleep(0.2)
    _kill(pid)
    raise BackendError(f"The local model server did not start within {timeout:.0f} s: see {log}.")


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def stop_server(timeout: float = STOP_GRACE_S) -> Optional[ServerRecord]:
    """Stop the data dir's server (it finishes the batch it is generating; a hung one is
    killed); returns the record of the server stopped, or None when none ran."""
    record = read_record()
    process = server_process(record)
    if process is None:
        record_path().unlink(missing_ok=True)  # a stale record
        return None
    _end(process, grace_s=timeout if is_serving(record) else 0)
    remove_record(record.pid)
    return record


def _end(process: psutil.Process, grace_s: float) -> None:
    """SIGTERM, then SIGKILL after `grace_s` (at once when 0)."""
    with suppress(psutil.NoSuchProcess):
        if grace_s > 0:
            process.terminate()
            if not psutil.wait_procs([process], timeout=grace_s)[1]:
                return
        process.kill()
        psutil.wait_procs([process], timeout=10)


def release_server_models() -> list[str]:
    """Ask a running server to drop its models (before a GPU job needs the memory);
    returns the specs it released, [] when no server runs."""
    record = running_server()
    if record is None:
        return []
    request = urllib.request.Request(f"{record.url}/v1/release", method="POST", data=b"")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())["released"]
    except (OSError, ValueError, KeyError) as exc:
        raise BackendError(f"The local model server at {record.url} did not release its models: {exc}") from exc


def _tail(path: Path, lines: int = 5) -> str:
    try:
        return " | ".join(path.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return "(no log)"
