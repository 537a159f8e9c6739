"""`python -m core serve`: the process that holds local models and generates.

uvicorn serves HTTP from a thread of its own; the main thread runs the compute
loop, which is the only one that generates (PyTorch generates several times
slower on a Streamlit script thread than on a main thread here). A server
started for the app watches the app's pid: once the app is gone and nobody has
asked anything for `idle_exit_s`, it exits and removes its record.
"""

from __future__ import annotations

import ipaddress
import signal
import socket
import threading
import time
from dataclasses import dataclass
from typing import Optional

import psutil

from core.errors import BackendError, InvalidInputError
from core.processes import live_command
from core.llm.spec import parse_spec
from core.serving.compute import DEFAULT_WINDOW_S, ComputeLoop
from core.serving.lifecycle import ServerRecord, read_record, remove_record, server_process, write_record
from core.serving.pool import ModelPool, default_budget_bytes

DEFAULT_IDLE_EXIT_S = 300.0
STARTUP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class ServerOptions:
    host: str = "127.0.0.1"  # loopback only, whatever address the app itself is served on
    port: int = 8765
    budget_bytes: Optional[int] = None  # None: half this machine's memory
    window_s: float = DEFAULT_WINDOW_S
    parent_pid: Optional[int] = None
    idle_exit_s: float = DEFAULT_IDLE_EXIT_S

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise InvalidInputError(f"--port must be from 0 to 65535 (0 picks a free port), not {self.port}.")
        if not _is_loopback(self.host):
            raise InvalidInputError(
                f"The model server listens on this machine only (127.0.0.1 or ::1), not on {self.host!r}: it "
                "answers anyone who reaches it, with no sign-in. Serve the app on the network instead "
                "(`HOST=0.0.0.0 make app`); it reaches the model server here.")


def serve(options: ServerOptions) -> None:
    """Serve until SIGTERM / Ctrl-C, or until the parent is gone and the server idle."""
    _refuse_second_server()
    listener = _bind(options.host, options.port)
    budget = options.budget_bytes or default_budget_bytes()
    compute = ComputeLoop(ModelPool(budget), options.window_s)
    http, http_thread = _start_http(compute, listener)
    host, port = listener.getsockname()[:2]
    record = ServerRecord(pid=psutil.Process().pid, host=host, port=port, started_at=time.time(),
                          parent_pid=options.parent_pid)
    write_record(record)
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    print(f"Serving local models at {record.url}/v1 (pid {record.pid}, memory budget "
          f"{budget / 1024 ** 3:.1f} GiB)", flush=True)
    try:
        # A server whose HTTP thread died answers nobody: it exits, so that the app sees it gone.
        compute.run(should_stop=lambda: stopping.is_set() or not http_thread.is_alive()
                    or _orphaned_and_idle(compute, options))
        http_died = not http_thread.is_alive()
    finally:
        http.should_exit = True
        http_thread.join(timeout=10)
        remove_record(record.pid)
        print("Model server stopped", flush=True)
    if http_died:
        raise BackendError("The model server's HTTP thread stopped (its error is above in this log), so the "
                           "server exited: the app starts a new one when asked, or run `python -m core serve`.")


def served_models() -> list[str]:
    """The default model and every registered adapter, as specs to ask for."""
    from core.llm.adapters import list_adapters
    from core.store import current_database

    specs = ["local", *(f"local?adapter={adapter.name}" for adapter in list_adapters(current_database()))]
    return [parse_spec(spec).text for spec in specs]


def _is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve anywhere
        return False


def _refuse_second_server() -> None:
    record = read_record()
    if server_process(record) is not None:  # answering or hung: it may hold models
        raise InvalidInputError(
            f"A model server for this data dir already runs at {record.url} (pid {record.pid}): use it, or "
            "stop it first with `python -m core server stop`.")


def _bind(host: str, port: int) -> socket.socket:
    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as exc:
        listener.close()
        raise InvalidInputError(f"Cannot listen on {host}:{port} ({exc.strerror}): pick another --port, "
                                "or 0 for any free one.") from exc
    listener.listen(128)
    return listener


def _start_http(compute: ComputeLoop, listener: socket.socket):
    """uvicorn serving the API from a thread of its own, once it accepts requests."""
    import uvicorn

    from core.serving.api import create_api

    http = uvicorn.Server(uvicorn.Config(create_api(compute, served_models), log_level="warning", lifespan="off"))
    http_thread = threading.Thread(target=http.run, kwargs={"sockets": [listener]}, name="http", daemon=True)
    http_thread.start()
    _wait_started(http)
    return http, http_thread


def _wait_started(http) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not http.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the HTTP server did not start")
        time.sleep(0.05)


def _orphaned_and_idle(compute: ComputeLoop, options: ServerOptions) -> bool:
    if options.parent_pid is None or live_command(options.parent_pid) is not None:
        return False
    return time.monotonic() - compute.stats.last_used > options.idle_exit_s
