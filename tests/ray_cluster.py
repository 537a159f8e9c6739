"""A real Ray head for the tests: `ray start --head --block` on 127.0.0.1, every port its own free one (two
test processes may each run a head), stopped with its whole process group when the session ends.

Ray is a test requirement (and an optional extra of the app), so its tests run in CI like the others.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

import pytest

VENV_BIN = Path(sys.executable).parent
PORT_OPTIONS = ("port", "dashboard-port", "ray-client-server-port", "node-manager-port", "object-manager-port",
                "dashboard-agent-listen-port", "dashboard-agent-grpc-port", "metrics-export-port",
                "runtime-env-agent-port")
WORKER_PORTS = 20


class RayHead:
    def __init__(self, folder: Path):
        self.folder = folder  # short: Ray's socket paths must fit in 107 characters
        ports = _free_ports(len(PORT_OPTIONS) + WORKER_PORTS)  # held together while picked: no port twice
        self.ports = dict(zip(PORT_OPTIONS, ports))
        self.worker_ports = ports[len(PORT_OPTIONS):]
        self.process: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        """The dashboard's address, which RAGTUNE_JOBS takes."""
        return f"http://127.0.0.1:{self.ports['dashboard-port']}"

    def start(self, timeout_s: float = 120) -> None:
        command = [str(VENV_BIN / "ray"), "start", "--head", "--block", "--node-ip-address=127.0.0.1",
                   "--dashboard-host=127.0.0.1", "--include-dashboard=true", "--num-cpus=4", "--num-gpus=0",
                   "--disable-usage-stats", f"--temp-dir={self.folder}",
                   f"--worker-port-list={','.join(map(str, self.worker_ports))}",
                   *(f"--{option}={port}" for option, port in self.ports.items())]
        # The cluster's workers run `python` from PATH: this environment's, with the project's requirements.
        env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
               "RAY_USAGE_STATS_ENABLED": "0"}
        self.process = subprocess.Popen(command, env=env, stdout=open(self.folder / "head.log", "ab"),
                                        stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_until_it_answers(timeout_s)

    def stop(self) -> None:
        if self.process is None:
            return
        for sig, wait_s in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.process.wait(wait_s)
                break
            except subprocess.TimeoutExpired:
                continue
        _kill_stragglers(self.folder)
        self.process = None

    def _wait_until_it_answers(self, timeout_s: float) -> None:
        from ray.job_submission import JobSubmissionClient

        deadline = time.monotonic() + timeout_s
        while True:
            try:
                JobSubmissionClient(self.address).list_jobs()
                return
            except Exception:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    log = (self.folder / "head.log").read_text(errors="replace")[-3000:]
                    raise RuntimeError(f"the Ray head did not start: {log}") from None
                time.sleep(1)


def _kill_stragglers(folder: Path) -> None:
    """Ray's processes that left the head's process group (its workers, started by the raylet) name its folder."""
    import psutil

    for process in psutil.process_iter(["cmdline"]):
        if any(str(folder) in part for part in process.info["cmdline"] or []):
            try:
                process.kill()
            except psutil.Error:
                pass


def _free_ports(count: int) -> list[int]:
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in probes]
    finally:
        for probe in probes:
            probe.close()


@pytest.fixture(scope="session")
def ray_head() -> Iterator[RayHead]:
    folder = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))
    head = RayHead(folder)
    head.start()
    try:
        yield head
    finally:
        head.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def ray_jobs(ray_head, monkeypatch) -> RayHead:
    """New jobs of this test run on the Ray head."""
    monkeypatch.setenv("RAGTUNE_JOBS", ray_head.address)
    return ray_head
