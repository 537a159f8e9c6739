"""The server client under network faults: a request that may have reached the server is
never sent twice; one that surely did not is sent once more, to the restarted server.

The faults come from a fake server on a free port: the network boundary."""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from core.errors import BackendError
from core.llm.base import Prompt
from core.llm.spec import parse_spec
from core.serving.client import ServerBackend


class FaultyServer(ThreadingHTTPServer):
    """Counts the requests it receives, then answers each with `fault`: "slow" or "hang up"."""

    daemon_threads = True

    def __init__(self, fault: str):
        super().__init__(("127.0.0.1", 0), FaultyHandler)
        self.fault = fault
        self.received = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class FaultyHandler(BaseHTTPRequestHandler):
    def do_POST(self):
        self.server.received += 1
        if self.server.fault == "slow":
            time.sleep(3)
        self.close_connection = True  # no response at all: the server went away mid-request

    def log_message(self, *_args):
        pass


@pytest.fixture
def faulty_server():
    servers = []

    def start(fault: str) -> FaultyServer:
        server = FaultyServer(fault)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def test_a_request_that_times_out_fails_clearly_and_is_not_sent_again(faulty_server):
    server = faulty_server("slow")
    backend = ServerBackend(server.url, parse_spec("local"), reconnect=lambda: server.url, timeout_s=0.5)
    with pytest.raises(BackendError, match="did not answer within 0.5 s"):
        backend.generate(Prompt.ask("hi"))
    assert server.received == 1


def test_a_server_that_hangs_up_mid_request_is_not_asked_again(faulty_server):
    server = faulty_server("hang up")
    backend = ServerBackend(server.url, parse_spec("local"), reconnect=lambda: server.url)
    with pytest.raises(BackendError, match="stopped while answering"):
        backend.generate(Prompt.ask("hi"))
    assert server.received == 1


def test_a_refused_connection_is_retried_once_on_the_restarted_server():
    restarts = []

    def restart() -> str:
        restarts.append(closed_port_url())  # the "restarted" server refuses too
        return restarts[-1]

    backend = ServerBackend(closed_port_url(), parse_spec("local"), reconnect=restart)
    with pytest.raises(BackendError, match="stopped answering"):
        backend.generate(Prompt.ask("hi"))
    assert len(restarts) == 1
