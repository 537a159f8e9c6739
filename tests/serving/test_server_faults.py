"""The model server under faults: stopping with requests queued, askers who give up."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest

from core.llm.base import GenerationOptions, Prompt
from core.llm.spec import parse_spec
from core.serving.compute import ComputeLoop, ServedCompletion, ServerStoppingError
from core.serving.lifecycle import health, stop_server
from core.serving.pool import ModelPool

SHORT = GenerationOptions(max_new_tokens=4)


def ask(url: str, model: str, timeout: float = 60):
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=timeout)
    return client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}], max_tokens=4)


def test_stopping_refuses_the_queued_requests_at_once(serve, tiny_spec):
    server = serve("--batch-window-ms", "20000")  # the requests wait there, gathering for a batch
    with ThreadPoolExecutor(2) as pool:
        asked = [pool.submit(ask, server.url, tiny_spec) for _ in range(2)]
        time.sleep(1)
        started = time.monotonic()
        stop_server()
        for future in asked:
            with pytest.raises(openai.APIStatusError) as refused:
                future.result(timeout=10)
            assert refused.value.status_code == 503 and "stopping" in refused.value.body["message"]
    assert time.monotonic() - started < 5


def test_an_asker_who_gave_up_does_not_stop_the_server_for_others(serve, tiny_spec):
    server = serve("--batch-window-ms", "1500")
    with pytest.raises(openai.APITimeoutError):
        ask(server.url, tiny_spec, timeout=0.3)  # disconnects while its request waits for the batch
    assert ask(server.url, tiny_spec).usage.completion_tokens > 0
    assert health(server.url)["stats"]["requests"] >= 1


def test_a_cancelled_request_is_skipped_and_the_loop_serves_the_rest(tiny_spec):
    compute = ComputeLoop(ModelPool(budget_bytes=10 ** 9))
    spec = parse_spec(tiny_spec)
    given_up = compute.generate(spec, Prompt.ask("never mind"), SHORT)
    assert given_up.cancel()
    wanted = compute.generate(spec, Prompt.ask("hi"), SHORT)
    compute.run(should_stop=wanted.done)
    assert isinstance(wanted.result(), ServedCompletion) and compute.stats.requests == 1


def test_a_request_after_the_loop_stopped_is_refused_at_once(tiny_spec):
    compute = ComputeLoop(ModelPool(budget_bytes=10 ** 9))
    compute.run(should_stop=lambda: True)
    with pytest.raises(ServerStoppingError, match="stopping"):
        compute.generate(parse_spec(tiny_spec), Prompt.ask("hi"), SHORT).result(timeout=1)
