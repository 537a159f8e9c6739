"""One server per data dir: started on demand, a dead, hung or stale one replaced, an orphan gone when idle."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from core.errors import BackendError, InvalidInputError
from core.llm.base import GenerationOptions, Prompt
from core.llm.local import LocalBackend
from core.llm.spec import parse_spec
from core.serving.client import ServerBackend
from core.serving.lifecycle import (ServerRecord, ensure_server, health, read_record, record_path, running_server,
                                    start_server, stop_server, write_record)
from core.serving.routing import local_backend
from core.systems import build_backend

SHORT = GenerationOptions(max_new_tokens=4)


def kill(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    psutil.Process(pid).wait(10)


def test_the_app_restarts_a_server_that_died(serve, tiny_spec, monkeypatch):
    monkeypatch.setenv("RAGTUNE_MODEL_SERVER", "on")
    backend = build_backend(parse_spec(tiny_spec))
    assert isinstance(backend, ServerBackend)
    backend.generate(Prompt.ask("hi"), SHORT)
    first = running_server()
    kill(first.pid)
    assert running_server() is None  # the record stays, but it no longer counts

    answer = backend.generate(Prompt.ask("hi again"), SHORT)  # the same backend, the next question
    assert answer.output_tokens > 0
    assert running_server().pid not in (None, first.pid)


def test_a_dead_server_is_reported_when_nothing_may_restart_it(serve, tiny_spec):
    record = serve()
    backend = local_backend(parse_spec(tiny_spec))  # auto: uses the running server, never starts one
    assert isinstance(backend, ServerBackend)
    kill(record.pid)
    with pytest.raises(BackendError, match="stopped answering"):
        backend.generate(Prompt.ask("hi"), SHORT)


def test_a_stale_record_is_detected_and_replaced(serve, tiny_spec):
    write_record(ServerRecord(pid=os.getpid(), host="127.0.0.1", port=9, started_at=time.time()))
    assert running_server() is None  # the pid is alive, but it is no model server
    record = ensure_server()
    assert record.pid != os.getpid() and read_record() == record


def test_two_askers_at_once_start_one_server(serve):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        records = list(pool.map(lambda _: ensure_server(), range(2)))
    assert records[0] == records[1]


def test_a_server_exits_once_its_parent_is_gone_and_it_is_idle(data_dir):
    parent = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3)"])
    server = subprocess.Popen([sys.executable, "-m", "core", "serve", "--port", "0", "--parent-pid", str(parent.pid),
                               "--idle-exit-s", "1"], env={**os.environ, "RAGTUNE_MODEL_SERVER": "off"})
    try:
        parent.wait(20)
        assert server.wait(60) == 0
    finally:
        server.kill()
    assert not record_path().exists()


def test_routing_in_process_or_through_the_server(serve, tiny_spec, monkeypatch):
    spec = parse_spec(tiny_spec)
    assert isinstance(local_backend(spec), LocalBackend)  # auto, and no server runs
    serve()
    assert isinstance(local_backend(spec), ServerBackend)  # auto, and one runs
    monkeypatch.setenv("RAGTUNE_MODEL_SERVER", "off")
    assert isinstance(local_backend(spec), LocalBackend)  # workers: always in process
    monkeypatch.setenv("RAGTUNE_MODEL_SERVER", "sometimes")
    with pytest.raises(InvalidInputError, match="not one of auto, on, off"):
        local_backend(spec)


def test_a_second_server_for_the_same_data_dir_is_refused(serve):
    record = serve()
    with pytest.raises(BackendError, match=f"already runs at {record.url}"):
        start_server(timeout=60)


def hang(pid: int) -> None:
    """The process lives on (holding its models) but answers nobody: once SIGSTOP has stopped every
    thread (the kernel stops them one by one, so the HTTP thread could answer one more request)."""
    os.kill(pid, signal.SIGSTOP)
    tasks = Path(f"/proc/{pid}/task")
    deadline = time.monotonic() + 10
    while any(_thread_state(task) not in "Tt" for task in tasks.iterdir()):
        assert time.monotonic() < deadline, f"process {pid} did not stop"
        time.sleep(0.01)


def _thread_state(task: Path) -> str:
    """The state letter in /proc/PID/task/TID/stat, after the command name in parentheses."""
    try:
        return (task / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:  # the thread ended
        return "T"


def is_gone(pid: int) -> bool:
    return not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_a_hung_server_is_killed_before_a_new_one_replaces_it(serve):
    hung = serve()
    hang(hung.pid)
    record = ensure_server()
    assert record.pid != hung.pid and is_gone(hung.pid)


def test_stop_kills_a_hung_server(serve):
    hung = serve()
    hang(hung.pid)
    assert stop_server() == hung and is_gone(hung.pid)
    assert read_record() is None


SERVE_UNTIL_HTTP_DIES = """
import sys, pathlib, uvicorn
from core.cli import main

trigger = pathlib.Path(sys.argv[1])
tick = uvicorn.Server.on_tick

async def on_tick(self, counter):
    if trigger.exists():
        raise RuntimeError("the HTTP thread died")
    return await tick(self, counter)

uvicorn.Server.on_tick = on_tick
sys.exit(main(["serve", "--port", "0"]))
"""


def _answering(record) -> bool:
    return record is not None and health(record.url).get("pid") == record.pid


def test_a_server_whose_http_thread_died_exits(data_dir, tmp_path):
    trigger = tmp_path / "die"
    server = subprocess.Popen([sys.executable, "-c", SERVE_UNTIL_HTTP_DIES, str(trigger)],
                              env={**os.environ, "RAGTUNE_MODEL_SERVER": "off"}, stderr=subprocess.PIPE, text=True)
    try:
        # Not running_server(): it looks for a `core serve` command line, and this one is `python -c`.
        deadline = time.monotonic() + 60
        while not _answering(read_record()) and time.monotonic() < deadline:
            time.sleep(0.2)
        trigger.touch()
        assert server.wait(30) == 2
    finally:
        server.kill()
    assert "HTTP thread stopped" in server.stderr.read() and not record_path().exists()
