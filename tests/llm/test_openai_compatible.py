import pytest

from core.errors import BackendError, MissingKeyError
from core.llm.base import GenerationOptions, Prompt
from core.llm.openai_compatible import OpenAICompatibleBackend
from core.llm.spec import parse_spec
from tests.llm.fake_servers import FakeServer, Reply, error, openai_chat


def backend(server: FakeServer, **options) -> OpenAICompatibleBackend:
    query = "".join(f"&{name}={value}" for name, value in options.items())
    return OpenAICompatibleBackend.from_spec(parse_spec(f"openai:served-model?base_url={server.url}/v1{query}"))


def test_answer_and_usage_from_a_self_hosted_server_without_a_key(monkeypatch):
    monkeypatch.setenv("RAGTUNE_LOCAL_USD_PER_HOUR", "3600")  # 1 USD per second: cost == latency in s
    with FakeServer(openai_chat("Paris.", prompt_tokens=20, completion_tokens=3)) as server:
        completion = backend(server).generate(Prompt.ask("Capital?", system="Be brief."),
                                              GenerationOptions(max_new_tokens=16, stop=("\n",)))
    assert (completion.text, completion.input_tokens, completion.output_tokens) == ("Paris.", 20, 3)
    assert completion.cost_usd == pytest.approx(completion.latency_ms / 1000, rel=0.5)
    request = server.requests[0]
    assert request["path"] == "/v1/chat/completions"
    assert request["json"]["messages"] == [{"role": "system", "content": "Be brief."},
                                           {"role": "user", "content": "Capital?"}]
    assert (request["json"]["max_tokens"], request["json"]["stop"]) == (16, ["\n"])


def test_a_seed_is_sent_when_given_and_left_out_otherwise():
    with FakeServer(openai_chat("ok")) as server:
        backend(server).generate(Prompt.ask("hi"), GenerationOptions(temperature=0.8, seed=42))
        backend(server).generate(Prompt.ask("hi"))
    assert server.requests[0]["json"]["seed"] == 42 and "seed" not in server.requests[1]["json"]


def test_the_key_named_by_key_env_is_sent_as_a_bearer_token(monkeypatch):
    monkeypatch.setenv("RAGTUNE_KEY_ENVS", "SERVED_MODEL_KEY")
    monkeypatch.setenv("SERVED_MODEL_KEY", "sk-local")
    with FakeServer(openai_chat("ok")) as server:
        backend(server, key_env="SERVED_MODEL_KEY").generate(Prompt.ask("hi"))
    assert server.requests[0]["headers"]["authorization"] == "Bearer sk-local"


def test_a_server_without_usage_reports_zero_tokens_with_a_warning():
    with FakeServer(openai_chat("ok", usage=False)) as server:
        completion = backend(server).generate(Prompt.ask("hi"))
    assert (completion.input_tokens, completion.output_tokens) == (0, 0)
    assert "no token usage" in completion.warnings[0]


def test_a_rate_limit_is_retried_by_the_sdk():
    with FakeServer(error(429), openai_chat("after retry")) as server:
        assert backend(server).generate(Prompt.ask("hi")).text == "after retry"
    assert len(server.requests) == 2


def test_a_server_failing_every_time_gives_a_clear_error():
    with FakeServer(error(500)) as server:
        with pytest.raises(BackendError, match="HTTP 500"):
            backend(server, max_retries=1).generate(Prompt.ask("hi"))
    assert len(server.requests) == 2


def test_a_server_that_does_not_answer_in_time_gives_a_timeout_error():
    with FakeServer(Reply(delay_s=2.0)) as server:
        with pytest.raises(BackendError, match="did not answer in time"):
            backend(server, max_retries=0, timeout=0.3).generate(Prompt.ask("hi"))


def test_a_server_that_is_down_is_named():
    with FakeServer(openai_chat("unused")) as server:
        url = server.url
    with pytest.raises(BackendError, match="Cannot reach"):
        OpenAICompatibleBackend("m", "not-needed", base_url=url + "/v1", max_retries=0).generate(Prompt.ask("hi"))


def test_openai_itself_needs_a_key():
    with pytest.raises(MissingKeyError, match="OPENAI_API_KEY"):
        OpenAICompatibleBackend.from_spec(parse_spec("openai:gpt-4o-mini"))
