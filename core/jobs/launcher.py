"""A warm start for job workers.

A fresh `python -m core.jobs.worker ID` spends 5-10 s of CPU importing torch, transformers, peft and
sentence-transformers before its job does anything: on a 2-core machine, most of a short job, and
time taken from the job beside it. The launcher is one long-lived process that has imported those
libraries once and forks a worker per job.

A forked worker runs exactly what `python -m core.jobs.worker ID` runs. The lab's own modules are
imported after the fork, under the environment of whoever asked (their data dir, store and settings),
so only third-party libraries are shared, and an edit to the lab's code reaches the next job. The
worker leads a session of its own, writes to its job's log and is named `rtjob-ID`, which is how
`core.jobs.processes` tells it is still that job's worker.

A launcher serves one environment: the variables its libraries read as they import (`KEYED_PREFIXES`)
and the Python it runs on make its key. Nothing waits for it: with no launcher answering, a worker
starts as a plain process and a launcher is started for the next job. It exits after `IDLE_S` without
a request. On a machine with CUDA it does not serve (CUDA does not survive a fork), nor where
`RAGTUNE_JOB_LAUNCHER=off`.
"""

from __future__ import annotations

import atexit
import fcntl
import hashlib
import json
import os
import signal
import socket
import sys
import tempfile
from pathlib import Path
from typing import Mapping, Optional, Sequence

from core.project import PROJECT_ROOT

PRELOADED = ("torch", "transformers", "transformers.trainer", "peft", "trl", "sentence_transformers")
# What those libraries read from the environment as they import: a launcher serves only its own values.
KEYED_PREFIXES = ("HF_", "HUGGINGFACE_", "TRANSFORMERS_", "TORCH", "PYTORCH_", "CUDA_", "OMP_", "MKL_",
                  "TOKENIZERS_", "BNB_", "PYTHON", "SENTENCE_TRANSFORMERS_", "LD_")
IDLE_S = 3600.0
ANSWER_TIMEOUT_S = 10.0
WORKER_MODULE = "core.jobs.worker"


def process_name(job_id: int) -> str:
    """What a forked worker is called (at most 15 characters: Linux's limit)."""
    return f"rtjob-{job_id}"


def launch(command: Sequence[str], log_path: Path, environment: Mapping[str, str]) -> Optional[int]:
    """Have the launcher for `environment` fork `python -m core.jobs.worker ID` (`command`); returns the
    worker's pid, or None when no launcher answers (one is then started for the next job).

    Raises OSError when a launcher took the request but gave no pid: it may have forked the worker, so
    starting another could run the job twice (the scheduler records that the start failed, and a worker
    that did start then finds its row failed and does nothing)."""
    if not _launchable(command, environment):
        return None
    paths = LauncherPaths.for_environment(environment)
    if paths is None:
        return None
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.settimeout(ANSWER_TIMEOUT_S)
        try:
            connection.connect(str(paths.socket))
        except OSError:
            _start_launcher(paths, environment)
            return None
        request = {"job_id": int(command[-1]), "log": str(log_path), "env": dict(environment)}
        connection.sendall(json.dumps(request).encode() + b"\n")
        answer = json.loads(_read_line(connection) or b"{}")
    if "pid" not in answer:
        raise OSError(f"the warm launcher (core.jobs.launcher) gave no worker: {answer.get('error', 'no answer')}")
    return int(answer["pid"])


def _launchable(command: Sequence[str], environment: Mapping[str, str]) -> bool:
    from core.settings import Settings

    return (Settings.from_env(environment).job_launcher and sys.platform == "linux"
            and list(command[:-1]) == [sys.executable, "-m", WORKER_MODULE] and command[-1].isdigit())


class LauncherPaths:
    """The files of one environment's launcher, in a folder only this user can open."""

    def __init__(self, folder: Path, key: str):
        self.socket = folder / f"{key}.sock"
        self.lock = folder / f"{key}.lock"  # held by the live launcher; it holds its pid
        self.log = folder / f"{key}.log"

    @classmethod
    def for_environment(cls, environment: Mapping[str, str]) -> Optional["LauncherPaths"]:
        folder = Path(tempfile.gettempdir()) / f"ragtune-launchers-{os.getuid()}"
        folder.mkdir(mode=0o700, exist_ok=True)
        status = folder.stat()
        if status.st_uid != os.getuid() or status.st_mode & 0o077:
            return None  # another user's folder, or one others may write in: its socket cannot be trusted
        return cls(folder, launcher_key(environment))


def launcher_key(environment: Mapping[str, str]) -> str:
    keyed = sorted((name, value) for name, value in environment.items() if name.startswith(KEYED_PREFIXES))
    text = json.dumps([sys.executable, str(PROJECT_ROOT), keyed])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _read_line(connection: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = connection.recv(65536)
        if not chunk:
            break
        data += chunk
    return data.strip()


def _start_launcher(paths: LauncherPaths, environment: Mapping[str, str]) -> None:
    """Start a launcher unless one is alive (it may still be importing)."""
    from core.processes import spawn_detached

    if _holder(paths) is None:
        spawn_detached([sys.executable, "-m", "core.jobs.launcher", str(paths.socket)], paths.log, environment)


def launcher_pid(environment: Mapping[str, str]) -> Optional[int]:
    """The pid of the launcher serving `environment` (it may still be importing), or None."""
    paths = LauncherPaths.for_environment(environment)
    return _holder(paths) if paths else None


def _holder(paths: LauncherPaths) -> Optional[int]:
    return _lock_holder(paths.lock)


def _lock_holder(lock_path: Path) -> Optional[int]:
    """The pid written in a launcher's lock file while it holds it (-1 before it wrote it), or None."""
    try:
        with open(lock_path, "a+") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock.seek(0)
                first = (lock.read().split() or [""])[0]
                return int(first) if first.isdigit() else -1
            fcntl.flock(lock, fcntl.LOCK_UN)
            return None
    except OSError:
        return None


def stop_launchers() -> list[int]:
    """Stop this checkout's launchers, whatever environment each serves (the workers they forked go on);
    returns their pids."""
    folder = LauncherPaths.for_environment({})
    stopped = []
    for lock_path in folder.socket.parent.glob("*.lock") if folder else ():
        pid = _lock_holder(lock_path)
        if pid and pid > 0 and lock_path.read_text().splitlines()[1:] == [str(PROJECT_ROOT)]:
            try:
                os.kill(pid, signal.SIGTERM)
                stopped.append(pid)
            except ProcessLookupError:
                pass
    return stopped


# --- the launcher process -------------------------------------------------------------------------------


def serve(socket_path: Path, idle_s: float = IDLE_S) -> int:
    paths = LauncherPaths(socket_path.parent, socket_path.stem)
    lock = open(paths.lock, "a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return 0  # another launcher of this environment runs
    lock.truncate(0)
    lock.write(f"{os.getpid()}\n{PROJECT_ROOT}")
    lock.flush()
    _preload()
    if _has_cuda():
        print("CUDA is present: workers start as plain processes (CUDA does not survive a fork)", flush=True)
        return 0
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        socket_path.unlink(missing_ok=True)  # a dead launcher's
        listener.bind(str(socket_path))
        os.chmod(socket_path, 0o600)
        listener.listen(16)
        listener.settimeout(idle_s)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        print(f"launcher {os.getpid()} serving {socket_path}", flush=True)
        try:
            while True:
                try:
                    connection, _ = listener.accept()
                except socket.timeout:
                    return 0
                with connection:
                    _answer(connection, listener)
        finally:
            socket_path.unlink(missing_ok=True)


def _preload() -> None:
    import importlib

    for module in PRELOADED:
        try:
            importlib.import_module(module)
        except ImportError:
            pass  # an optional library this install lacks: the worker reports it if a job needs it


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _answer(connection: socket.socket, listener: socket.socket) -> None:
    connection.settimeout(ANSWER_TIMEOUT_S)
    try:
        request = json.loads(_read_line(connection))
        pid = _fork_worker(int(request["job_id"]), Path(request["log"]), request["env"], (connection, listener))
        answer = {"pid": pid}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        answer = {"error": f"{type(exc).__name__}: {exc}"}
    try:
        connection.sendall(json.dumps(answer).encode() + b"\n")
    except OSError:
        pass


def _fork_worker(job_id: int, log_path: Path, environment: dict, sockets: tuple) -> int:
    """Fork twice, so that the worker is nobody's child here (init reaps it); returns its pid."""
    sys.stdout.flush()
    sys.stderr.flush()
    read_end, write_end = os.pipe()
    middle = os.fork()
    if middle == 0:
        os.close(read_end)
        worker = os.fork()
        if worker:
            os.write(write_end, str(worker).encode())
            os._exit(0)
        os.close(write_end)
        for open_socket in sockets:
            open_socket.close()
        _run_worker(job_id, log_path, environment)
    os.close(write_end)
    os.waitpid(middle, 0)
    with os.fdopen(read_end, "rb") as pipe:
        text = pipe.read().decode()
    if not text.isdigit():
        raise OSError("the worker could not be forked")
    return int(text)


def _run_worker(job_id: int, log_path: Path, environment: dict) -> None:
    """In the forked worker: become what `spawn_detached` makes, then run the worker; never returns."""
    code = 1
    try:
        os.setsid()
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        os.close(null)
        sys.stdout.reconfigure(line_buffering=True, write_through=True)
        sys.stderr.reconfigure(line_buffering=True, write_through=True)
        for number in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
            signal.signal(number, signal.SIG_DFL)
        os.chdir(PROJECT_ROOT)
        os.environ.clear()
        os.environ.update(environment)
        Path("/proc/self/comm").write_text(process_name(job_id))
        sys.argv = ["-m", str(job_id)]
        for name in [name for name in sys.modules if name == "core" or name.startswith("core.")]:
            del sys.modules[name]  # the lab's code, fresh and under this job's environment
        from core.jobs.worker import main

        code = main([str(job_id)])
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    sys.exit(serve(Path(sys.argv[1])))
