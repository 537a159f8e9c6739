import pytest

from core.errors import BackendError, MissingKeyError
from core.llm.anthropic_backend import AnthropicBackend
from core.llm.base import GenerationOptions, Prompt
from core.llm.spec import parse_spec
from tests.llm.fake_servers import FakeServer, Reply, anthropic_message, error


def backend(server: FakeServer, **kwargs) -> AnthropicBackend:
    return AnthropicBackend("claude-sonnet-4-5", key="sk-test", base_url=server.url, **kwargs)


def test_answer_tokens_and_cost_come_from_the_response():
    with FakeServer(anthropic_message("Paris.", input_tokens=1000, output_tokens=100)) as server:
        completion = backend(server).generate(Prompt.ask("Capital of France?", system="Be brief."),
                                              GenerationOptions(max_new_tokens=50, stop=("\n\n",)))
    assert completion.text == "Paris."
    assert (completion.input_tokens, completion.output_tokens) == (1000, 100)
    assert completion.model == "claude-sonnet-4-5-20250929"
    assert completion.cost_usd == pytest.approx((1000 * 3 + 100 * 15) / 1e6)
    assert completion.latency_ms > 0 and completion.warnings == ()
    request = server.requests[0]
    assert request["path"] == "/v1/messages"
    assert "sk-test" in request["headers"].get("x-api-key", request["headers"].get("authorization", ""))
    assert request["json"] == {"model": "claude-sonnet-4-5", "max_tokens": 50, "system": "Be brief.",
                               "messages": [{"role": "user", "content": "Capital of France?"}],
                               "stop_sequences": ["\n\n"]}


def test_temperature_is_sent_only_when_sampling():
    with FakeServer(anthropic_message("hi")) as server:
        backend(server).generate(Prompt.ask("hi"), GenerationOptions(temperature=0.7))
    assert server.requests[0]["json"]["temperature"] == 0.7


def test_a_rate_limit_is_retried_by_the_sdk():
    with FakeServer(error(429, kind="rate_limit_error"), anthropic_message("after retry")) as server:
        completion = backend(server, max_retries=2).generate(Prompt.ask("hi"))
    assert completion.text == "after retry"
    assert len(server.requests) == 2


def test_a_server_failing_every_time_gives_a_clear_error_after_the_retries():
    with FakeServer(error(500)) as server:
        with pytest.raises(BackendError, match=r"HTTP 500.*after retries"):
            backend(server, max_retries=1).generate(Prompt.ask("hi"))
    assert len(server.requests) == 2


def test_a_server_that_does_not_answer_in_time_gives_a_timeout_error():
    with FakeServer(Reply(delay_s=2.0, body={})) as server:
        with pytest.raises(BackendError, match="did not answer in time"):
            backend(server, max_retries=0, timeout=0.3).generate(Prompt.ask("hi"))


def test_a_rejected_key_is_explained():
    with FakeServer(error(401, kind="authentication_error")) as server:
        with pytest.raises(BackendError, match="refused the API key"):
            backend(server).generate(Prompt.ask("hi"))


def test_a_missing_key_names_the_variable_to_set():
    with pytest.raises(MissingKeyError, match="ANTHROPIC_API_KEY"):
        AnthropicBackend.from_spec(parse_spec("anthropic"))


def test_the_key_comes_from_the_variable_key_env_names(monkeypatch):
    monkeypatch.setenv("RAGTUNE_KEY_ENVS", "PROXY_KEY")
    monkeypatch.setenv("PROXY_KEY", "sk-env")
    with FakeServer(anthropic_message("ok")) as server:
        AnthropicBackend.from_spec(parse_spec(f"anthropic?base_url={server.url}&key_env=PROXY_KEY")).generate(
            Prompt.ask("hi"))
    headers = server.requests[0]["headers"]
    assert "sk-env" in headers.get("x-api-key", headers.get("authorization", ""))


def test_an_unpriced_model_costs_zero_with_a_warning():
    with FakeServer(anthropic_message("ok", model="claude-future-9")) as server:
        completion = AnthropicBackend("claude-future-9", key="k", base_url=server.url).generate(Prompt.ask("hi"))
    assert completion.cost_usd == 0.0
    assert "No price" in completion.warnings[0]
