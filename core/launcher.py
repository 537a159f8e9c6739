"""A warm start for the lab's background processes: job workers and the model server.

A fresh `python -m core.jobs.worker ID` spends 5-10 s of CPU importing torch, transformers, peft and
sentence-transformers before its job does anything: on a 2-core machine, most of a short job, and
time taken from the job beside it. The launcher is one long-lived process that has imported those
libraries once and forks each of those processes.

A forked process runs exactly what its `python -m MODULE ARGS` runs. The lab's own modules are
imported after the fork, under the environment of whoever asked (their data dir, store and settings),
so only third-party libraries are shared, and an edit to the lab's code reaches the next process. It
leads a session of its own, writes to its log and takes the name it was given (a job's worker is
`rtjob-ID`), which is how a recorded pid is told apart from a reused one.

A launcher serves one environment: the variables its libraries read as they import (`KEYED_PREFIXES`),
the Python it runs on and the checkout make its key. Nothing waits for it: with no launcher answering, a
process starts cold and a launcher is started for the next time. It exits after `IDLE_S` without a
request. On a machine with CUDA it does not serve (CUDA does not survive a fork), nor where
`RAGTUNE_JOB_LAUNCHER=off`.
"""

from __future__ import annotations

import atexit
import fcntl
import hashlib
import json
import os
import runpy
import signal
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Mapping, Optional, Sequence

from core.processes import spawn_detached
from core.project import PROJECT_ROOT
from core.settings import Settings

PRELOADED = ("torch", "transformers", "transformers.trainer", "peft", "trl", "sentence_transformers")
# What those libraries read from the environment as they import: a launcher serves only its own values.
KEYED_PREFIXES = ("HF_", "HUGGINGFACE_", "TRANSFORMERS_", "TORCH", "PYTORCH_", "CUDA_", "OMP_", "MKL_",
                  "TOKENIZERS_", "BNB_", "PYTHON", "SENTENCE_TRANSFORMERS_", "LD_")
IDLE_S = 3600.0
ANSWER_TIMEOUT_S = 10.0


LAUNCHABLE = ("core.jobs.worker", "core")  # `python -m core.jobs.worker ID`, `python -m core serve ...`
NAME_LENGTH = 15  # Linux's limit on a process's name


def launch(command: Sequence[str], log_path: Path, environment: Mapping[str, str], name: str) -> Optional[int]:
    """Have the launcher for `environment` fork `command` (`python -m MODULE ARGS`, MODULE one of
    `LAUNCHABLE`) as a process called `name`; returns its pid, or None when no launcher answers (one is
    then started for the next time).

    Raises OSError when a launcher took the request but gave no pid: it may have forked the process, so
    starting another could run a job twice (the scheduler records that the start failed, and a worker
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
        request = {"module": command[2], "args": list(command[3:]), "name": name, "log": str(log_path),
                   "env": dict(environment)}
        connection.sendall(json.dumps(request).encode() + b"\n")
        answer = json.loads(_read_line(connection) or b"{}")
    if "pid" not in answer:
        raise OSError(f"the warm launcher (core.launcher) gave no process: {answer.get('error', 'no answer')}")
    return int(answer["pid"])


def _launchable(command: Sequence[str], environment: Mapping[str, str]) -> bool:
    return (Settings.from_env(environment).job_launcher and sys.platform == "linux" and len(command) > 2
            and list(command[:2]) == [sys.executable, "-m"] and command[2] in LAUNCHABLE)


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
    if _lock_holder(paths.lock) is None:
        spawn_detached([sys.executable, "-m", "core.launcher", str(paths.socket)], paths.log, environment)


def serving(environment: Mapping[str, str]) -> bool:
    """Whether a launcher for `environment` takes requests now (not still importing)."""
    paths = LauncherPaths.for_environment(environment)
    if paths is None:
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(paths.socket))
            return True
        except OSError:
            return False


def launcher_pid(environment: Mapping[str, str]) -> Optional[int]:
    """The pid of the launcher serving `environment` (it may still be importing), or None."""
    paths = LauncherPaths.for_environment(environment)
    return _lock_holder(paths.lock) if paths else None


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
    with open(paths.lock, "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return 0  # another launcher of this environment runs
        lock.truncate(0)
        lock.write(f"{os.getpid()}\n{PROJECT_ROOT}")
        lock.flush()
        if _has_cuda():  # it holds the lock, idle, so that no launcher is started for every job
            print("CUDA is present: processes start cold (CUDA does not survive a fork)", flush=True)
            time.sleep(idle_s)
            return 0
        _preload()
        return _accept(socket_path, idle_s)


def _accept(socket_path: Path, idle_s: float) -> int:
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
        if request["module"] not in LAUNCHABLE:
            raise ValueError(f"{request['module']!r} is not a module the launcher starts")
        pid = _fork(request, (connection, listener))
        answer = {"pid": pid}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        answer = {"error": f"{type(exc).__name__}: {exc}"}
    try:
        connection.sendall(json.dumps(answer).encode() + b"\n")
    except OSError:
        pass


def _fork(request: dict, sockets: tuple) -> int:
    """Fork twice, so that the process is nobody's child here (init reaps it); returns its pid once it
    leads its own session under its own name."""
    sys.stdout.flush()
    sys.stderr.flush()
    read_end, write_end = os.pipe()
    middle = os.fork()
    if middle == 0:
        os.close(read_end)
        if os.fork():
            os._exit(0)
        for open_socket in sockets:
            open_socket.close()
        _run(request, write_end)
    os.close(write_end)
    os.waitpid(middle, 0)
    with os.fdopen(read_end, "rb") as pipe:
        text = pipe.read().decode()  # until the process closes its end
    if not text.isdigit():
        raise OSError("the process could not be forked")
    return int(text)


def _run(request: dict, pid_pipe: int) -> None:
    """In the forked process: become what `spawn_detached` makes, say so through `pid_pipe`, then run
    `python -m MODULE ARGS`; never returns."""
    code = 1
    try:
        for number in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
            signal.signal(number, signal.SIG_DFL)
        os.setsid()
        Path("/proc/self/comm").write_text(str(request["name"])[:NAME_LENGTH])
        os.write(pid_pipe, str(os.getpid()).encode())
        os.close(pid_pipe)
        log_path = Path(request["log"])
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
        os.chdir(PROJECT_ROOT)
        os.environ.clear()
        os.environ.update(request["env"])
        for loaded in [loaded for loaded in sys.modules if loaded == "core" or loaded.startswith("core.")]:
            del sys.modules[loaded]  # the lab's code, fresh and under the asker's environment
        module = request["module"]
        sys.argv = [module, *map(str, request["args"])]  # runpy puts the module's file first
        runpy.run_module(module, run_name="__main__", alter_sys=True)
        code = 0
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
