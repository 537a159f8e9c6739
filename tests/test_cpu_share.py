"""Sharing the cores: real processes hold real locks in a folder of the test's own."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from core import cpu_share
from core.cpu_share import CHECK_EVERY_S, CoreShare, others_computing
from core.errors import InvalidInputError
from core.jobs import kinds, queue, worker
from core.jobs.context import JobContext
from core.jobs.kinds import JobKind
from core.llm.base import GenerationOptions, Prompt
from core.llm.local import LocalBackend

ROOT = Path(__file__).resolve().parents[1]
HOLDER = """
import sys
from core import cpu_share
with cpu_share.computing():
    print("computing", flush=True)
    sys.stdin.read()
"""


@pytest.fixture
def folder(tmp_path, monkeypatch):
    path = tmp_path / "cpu"
    monkeypatch.setenv("RAGTUNE_CPU_SHARE_DIR", str(path))
    monkeypatch.delenv("RAGTUNE_THREADS", raising=False)
    return path


@pytest.fixture(autouse=True)
def torch_threads_restored():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def other_process(folder):
    """Starts another process computing (it holds its claim until stdin closes)."""
    started = []

    def start() -> subprocess.Popen:
        process = subprocess.Popen([sys.executable, "-c", HOLDER], cwd=ROOT, stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, text=True, env={**os.environ})
        assert process.stdout.readline().strip() == "computing"
        started.append(process)
        return process

    yield start
    for process in started:
        process.kill()
        process.wait()


def settle() -> None:
    time.sleep(CHECK_EVERY_S * 1.5)  # past the interval between two counts


def test_alone_a_process_takes_every_thread_and_beside_another_half(folder, other_process):
    share = CoreShare(folder, all_threads=4)
    with share.computing():
        assert torch.get_num_threads() == 4
        other = other_process()
        settle()
        share.rebalance()
        assert torch.get_num_threads() == 2
        other.stdin.close()
        other.wait(30)
        settle()
        share.rebalance()
        assert torch.get_num_threads() == 4


def test_a_process_counts_only_while_it_computes(folder):
    share = CoreShare(folder, all_threads=2)
    with share.computing():
        assert others_computing(folder) == 1
        with share.computing():  # nested work keeps one claim
            assert others_computing(folder) == 1
        assert others_computing(folder) == 1
    assert others_computing(folder) == 0
    assert list(folder.iterdir()) == []


def test_a_killed_process_stops_counting_and_its_file_is_removed(folder, other_process):
    other = other_process()
    assert others_computing(folder) == 1
    os.kill(other.pid, signal.SIGKILL)
    other.wait(30)
    assert others_computing(folder) == 0
    assert list(folder.iterdir()) == []


def test_work_on_a_gpu_claims_no_share(folder):
    with CoreShare(folder, all_threads=2).computing("cuda:0"):
        assert others_computing(folder) == 0


def test_ragtune_threads_fixes_the_count_and_claims_nothing(folder, other_process, monkeypatch):
    other_process()
    monkeypatch.setenv("RAGTUNE_THREADS", "3")
    with CoreShare(folder, all_threads=2).computing():
        assert torch.get_num_threads() == 3
        assert others_computing(folder) == 1  # only the other process


@pytest.mark.parametrize("value", ["0", "two", "-1", "1.5"])
def test_a_bad_ragtune_threads_says_what_to_set(folder, monkeypatch, value):
    monkeypatch.setenv("RAGTUNE_THREADS", value)
    with pytest.raises(InvalidInputError, match="RAGTUNE_THREADS.*'auto' or a whole number"):
        with CoreShare(folder, all_threads=2).computing():
            pass


class Layered(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = torch.nn.ModuleList(torch.nn.Linear(8, 8) for _ in range(3))

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


def test_a_watched_model_rebalances_between_forward_and_backward(folder, other_process):
    share = CoreShare(folder, all_threads=4)
    model = cpu_share.watch(Layered(), share)
    with share.computing():
        loss = model(torch.randn(4, 8)).sum()
        assert torch.get_num_threads() == 4
        other_process()
        settle()
        loss.backward()  # the layers' backward hooks see the other process
        assert torch.get_num_threads() == 2


def test_local_generation_holds_a_claim_while_it_generates(folder, tiny_model_dir):
    backend = LocalBackend(str(tiny_model_dir), dtype="float32", device="cpu")
    seen = []
    backend.loaded.model.register_forward_pre_hook(lambda *_: seen.append(others_computing(folder)))
    backend.generate(Prompt.ask("hello"), GenerationOptions(max_new_tokens=3))
    assert seen and set(seen) == {1}
    assert others_computing(folder) == 0


class CountingKind(JobKind):
    """A job that reports how many processes compute while it runs, itself included."""

    def run(self, context):
        return {"computing": others_computing(cpu_share.share_folder())}


def test_a_job_worker_computes_for_the_whole_job(folder, db, monkeypatch, tmp_path):
    monkeypatch.setitem(kinds.KINDS, "counting", f"{__name__}:CountingKind")
    job = queue.submit_job(db, "counting", {})
    queue.set_fields(db, job.id, status=queue.RUNNING)
    assert worker.run(JobContext(db, job, tmp_path / "job")) == queue.SUCCEEDED
    assert queue.get_job(db, job.id).result == {"computing": 1}
    assert others_computing(folder) == 0
