"""The real server on a free port with the tiny model, asked through the OpenAI SDK."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest

from core.errors import InvalidInputError, NotFoundError
from core.llm.base import GenerationOptions, Prompt
from core.llm.local import LocalBackend
from core.llm.spec import parse_spec
from core.serving.client import ServerBackend
from core.serving.lifecycle import health, release_server_models

QUESTIONS = ["Capital of France?", "What is RAG?", "Name a colour.", "Two plus two?"]


def client(record) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{record.url}/v1", api_key="unused", max_retries=0)


def ask(record, model: str, question: str, max_tokens: int = 8):
    return client(record).chat.completions.create(
        model=model, messages=[{"role": "user", "content": question}], max_tokens=max_tokens)


def test_answers_with_usage_and_generation_time_on_the_main_thread(serve, tiny_spec):
    server = serve()
    response = ask(server, tiny_spec, "Capital of France?")
    assert response.model == "local:tiny-chat"
    assert isinstance(response.choices[0].message.content, str)
    assert response.usage.prompt_tokens > 5 and 0 < response.usage.completion_tokens <= 8
    lab = response.model_extra["lab"]
    assert lab["generation_ms"] > 0 and lab["batch_size"] == 1 and lab["cost_usd"] > 0
    report = health(server.url)
    assert report["stats"]["compute_thread"] == "MainThread"
    assert [m["spec"] for m in report["models"]] == [parse_spec(tiny_spec).text]
    listed = {m.id: m.model_extra["loaded"] for m in client(server).models.list()}
    assert listed[parse_spec(tiny_spec).text] is True and listed["local:smollm2"] is False


def test_concurrent_requests_are_answered_by_one_generate_batch_call(serve, tiny_spec, tiny_model_dir):
    server = serve("--batch-window-ms", "1500")
    with ThreadPoolExecutor(len(QUESTIONS)) as pool:
        responses = list(pool.map(lambda q: ask(server, tiny_spec, q), QUESTIONS))
    stats = health(server.url)["stats"]
    assert stats["generate_batch_calls"] == 1 and stats["batch_sizes"] == {"4": 1}
    assert [r.model_extra["lab"]["batch_size"] for r in responses] == [4] * 4
    in_process = LocalBackend(str(tiny_model_dir), dtype="float32").generate_batch(
        [Prompt.ask(q) for q in QUESTIONS], GenerationOptions(max_new_tokens=8))
    assert [r.choices[0].message.content for r in responses] == [c.text for c in in_process]


@pytest.mark.parametrize("model, status, message", [
    ("anthropic:claude-sonnet-4-5", 400, "serves local models only"),
    ("local:{tmp}/no-such-model", 404, "does not exist"),
    ("local:/etc", 400, "outside the folders the lab may read"),  # the server applies the rule for typed paths
    ("local?adapter=ghost", 404, "No adapter named 'ghost'"),
    ("local?kb=docs", 400, "retrieval happens in the client"),
    ("local?dtype=float8", 400, "not one of"),
])
def test_a_bad_model_spec_gets_a_4xx_with_a_clear_message(serve, model, status, message, tmp_path):
    server = serve()
    with pytest.raises(openai.APIStatusError) as refused:
        ask(server, model.format(tmp=tmp_path), "hi")
    assert refused.value.status_code == status and message in refused.value.body["message"]


def test_a_malformed_request_is_a_400_that_names_the_field(serve, tiny_spec):
    server = serve()
    request = urllib.request.Request(f"{server.url}/v1/chat/completions", method="POST",
                                     data=json.dumps({"model": tiny_spec, "messages": []}).encode(),
                                     headers={"content-type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request)
    assert refused.value.code == 400 and "messages" in json.loads(refused.value.read())["error"]["message"]


def test_the_server_backend_raises_the_servers_refusal_as_the_lab_error(serve, tiny_spec, tmp_path):
    server = serve()
    with pytest.raises(NotFoundError, match="does not exist"):
        ServerBackend(server.url, parse_spec(f"local:{tmp_path}/no-such-model")).generate(Prompt.ask("hi"))
    answer = ServerBackend(server.url, parse_spec(tiny_spec)).generate(Prompt.ask("hi"), GenerationOptions(4))
    assert answer.model == "local:tiny-chat" and answer.output_tokens <= 4 and answer.latency_ms > 0
    with pytest.raises(InvalidInputError, match="end with a user message"):
        ServerBackend(server.url, parse_spec(tiny_spec)).generate(Prompt((), "only a system prompt"))


def test_release_drops_every_loaded_model(serve, tiny_spec):
    server = serve()
    ask(server, tiny_spec, "hi")
    assert release_server_models() == [parse_spec(tiny_spec).text]
    assert health(server.url)["models"] == []
    assert ask(server, tiny_spec, "hi again").usage.completion_tokens > 0  # loads again on demand


def test_an_async_client_asking_for_json_as_ragas_does_is_answered(serve, tiny_spec):
    """ragas's `llm_factory(..., client=AsyncOpenAI(...))` asks with instructor's JSON mode: the
    schema in the system message and `response_format` json_object; `finish_reason` tells a cut answer."""
    server = serve()

    async def ask_async():
        async with openai.AsyncOpenAI(base_url=f"{server.url}/v1", api_key="unused") as client:
            return await client.chat.completions.create(
                model=tiny_spec, response_format={"type": "json_object"}, max_tokens=3,
                messages=[{"role": "system", "content": "Answer in JSON: {\"verdict\": 0 or 1}"},
                          {"role": "user", "content": "Is Paris in France?"}])

    response = asyncio.run(ask_async())
    assert response.usage.completion_tokens == 3 and response.choices[0].finish_reason == "length"
