"""Processes that go away mid-work: the app (its job goes on, and the page opened again finds it) and the
model server (a request it was answering fails once, clearly; the next one restarts it)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest

from core.access import LOCAL_ADMIN
from core.errors import BackendError
from core.evaluation.runs import list_runs, results
from core.evaluation.sets import import_eval_set
from core.jobs import queue
from core.llm.base import GenerationOptions, Prompt
from core.llm.spec import parse_spec
from core.serving.client import ServerBackend
from core.serving.lifecycle import read_record, running_server
from core.systems import build_backend
from tests.llm.fake_servers import FakeServer, openai_chat
from tests.pages.conftest import open_page
from tests.training_fixtures import wait_for, wait_until

pytestmark = pytest.mark.reliability

QUESTIONS = [{"id": f"q{n}", "question": f"What colour is fact {n}?", "reference_answer": "Blue.",
              "keywords": ["blue"]} for n in range(3)]


@pytest.fixture
def held_api():
    """An OpenAI-compatible API that answers only once `release` is set: the job runs until the test says."""
    release = threading.Event()

    def answer(_request: dict):
        release.wait(120)
        return openai_chat("It is blue.")

    with FakeServer(answer) as server:
        server.release = release
        yield server
        release.set()  # a failed test must not leave the server's threads waiting


def start_run_on_the_page(spec: str) -> None:
    page = open_page("pages/evaluate.py")
    page.multiselect(key="ev_run_systems").set_value([spec])
    page.multiselect(key="ev_run_metrics").set_value(["keyword_presence"])
    page.button[-1].click()  # the form's submit button
    page.run()
    assert not page.exception and any("Run 1 started" in s.value for s in page.success)


def test_a_job_started_on_a_page_goes_on_when_the_app_restarts_and_the_page_finds_it_again(db, held_api):
    import_eval_set(db, "small", "\n".join(json.dumps(item) for item in QUESTIONS), "test", actor=LOCAL_ADMIN)
    start_run_on_the_page(f"openai:served?base_url={held_api.url}/v1&max_retries=0")  # that app session is gone
    [(run, job)] = list_runs(db)
    wait_for(lambda: held_api.requests, "the worker to ask the API")
    worker = queue.get_job(db, job.id).pid
    assert os.getsid(worker) == worker != os.getsid(0)  # a session of its own: the app's end does not reach it

    page = open_page("pages/evaluate.py")  # the restarted app, a new session
    assert not page.exception and queue.get_job(db, job.id).status == queue.RUNNING
    assert page.button(key=f"job_cancel_{job.id}")  # shown running, with Cancel
    held_api.release.set()
    assert wait_until(db, job.id, [queue.SUCCEEDED, queue.FAILED]).status == queue.SUCCEEDED

    page = open_page("pages/evaluate.py")
    assert not page.exception and not page.error
    assert page.table[0].value.iloc[0]["answered"] == len(QUESTIONS)
    assert sorted(a.item_id for a in results(db, run.id)) == [q["id"] for q in QUESTIONS]


def long_answer_model(tiny_model_dir: Path, folder: Path) -> Path:
    """The tiny model with a long context (its rotary positions need no new weights): its answers can run to
    thousands of tokens, seconds of generating to be killed in."""
    shutil.copytree(tiny_model_dir, folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "max_position_embeddings": 8192}))
    return folder


def wait_until_generating(pid: int, before_s: float) -> None:
    """The server has spent half a second of CPU since `before_s`: it is generating the long answer."""
    wait_for(lambda: sum(psutil.Process(pid).cpu_times()[:2]) > before_s + 0.5, "the server to generate", 60)


def test_a_model_server_killed_mid_answer_fails_that_request_once_and_the_next_restarts_it(
        serve, tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("RAGTUNE_MODEL_SERVER", "on")  # as the dashboard runs
    model = long_answer_model(tiny_model_dir, tmp_path / "long-tiny")
    backend = build_backend(parse_spec(f"local:{model}?dtype=float32"))
    assert isinstance(backend, ServerBackend)
    backend.generate(Prompt.ask("hi"), GenerationOptions(max_new_tokens=2))  # loaded: the next request generates
    killed = running_server()
    cpu_before = sum(psutil.Process(killed.pid).cpu_times()[:2])
    with ThreadPoolExecutor(1) as pool:
        long_answer = GenerationOptions(max_new_tokens=4000)
        answer = pool.submit(backend.generate, Prompt.ask("Tell me a long story."), long_answer)
        wait_until_generating(killed.pid, cpu_before)
        os.kill(killed.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        with pytest.raises(BackendError, match="stopped while answering: ask again"):
            answer.result(timeout=60)
    assert time.monotonic() - killed_at < 10  # failed at once: not asked again of a restarted server
    assert read_record().pid == killed.pid and running_server() is None  # nothing was restarted for it

    again = backend.generate(Prompt.ask("hi again"), GenerationOptions(max_new_tokens=4))  # the next question
    assert again.output_tokens > 0 and running_server().pid != killed.pid
