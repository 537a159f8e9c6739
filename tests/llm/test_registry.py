"""The backend registry: one table that the grammar, the builder, the pages and the key rule read."""

import pytest

from core.errors import InvalidInputError
from core.llm.base import Backend, Prompt
from core.llm.registry import BACKENDS, key_env_for
from core.llm.spec import FORMS, parse_spec
from core.playground import PRESETS
from core.systems import build_backend
from tests.llm.fake_servers import FakeServer, anthropic_message, openai_chat

API_BACKENDS = [info for info in BACKENDS.values() if not info.runs_locally]


def sent_key(request: dict) -> str:
    headers = request["headers"]
    return headers.get("x-api-key") or headers.get("authorization", "")


@pytest.mark.parametrize("form", FORMS)
def test_every_form_the_registry_shows_parses(form):
    assert parse_spec(form).backend in BACKENDS


def test_presets_come_from_the_registry_and_parse():
    assert set(PRESETS) == {preset for info in BACKENDS.values() for preset in info.presets}
    assert all(parse_spec(preset).text for preset in PRESETS)


@pytest.mark.parametrize("info", BACKENDS.values(), ids=list(BACKENDS))
def test_every_option_is_typed_by_the_registry(info):
    for option in info.options:
        value = option.choices[-1] if option.choices else "3" if option.type is not str else "x"
        spec = parse_spec(f"{info.name}:m?{option.name}={value}")
        assert type(spec.typed_options[option.name]) is option.type
    with pytest.raises(InvalidInputError, match="Unknown option 'nonsense'"):
        parse_spec(f"{info.name}:m?nonsense=1")


@pytest.mark.parametrize("info", API_BACKENDS, ids=[info.name for info in API_BACKENDS])
def test_each_api_backend_builds_its_class_from_a_spec(info, monkeypatch):
    monkeypatch.setenv(key_env_for(info.name, {}), "sk-x")
    backend = build_backend(parse_spec(f"{info.name}:some-model"))
    assert isinstance(backend, info.load_class()) and isinstance(backend, Backend)
    assert backend.model_id == "some-model"


def test_a_service_key_goes_to_its_own_address_only():
    assert key_env_for("openai", {}) == "OPENAI_API_KEY"
    assert key_env_for("openai", {"base_url": "https://api.openai.com/v1/"}) == "OPENAI_API_KEY"
    assert key_env_for("openai", {"base_url": "http://any-host/v1"}) is None
    assert key_env_for("anthropic", {"base_url": "http://any-host"}) is None
    assert key_env_for("local", {}) is None


@pytest.mark.parametrize("backend, reply", [("openai", openai_chat("ok")), ("anthropic", anthropic_message("ok"))])
def test_a_typed_base_url_never_receives_the_services_key(backend, reply, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-secret")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-anthropic-secret")
    with FakeServer(reply) as server:
        build_backend(parse_spec(f"{backend}:m?base_url={server.url}/v1")).generate(Prompt.ask("hi"))
    assert "secret" not in sent_key(server.requests[0])


def test_key_env_must_be_one_the_operator_listed(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-anthropic-secret")
    spec = parse_spec("openai:m?base_url=http://127.0.0.1:9/v1&key_env=ANTHROPIC_API_KEY")
    with pytest.raises(InvalidInputError, match="RAGTUNE_KEY_ENVS"):
        build_backend(spec)
    monkeypatch.setenv("RAGTUNE_KEY_ENVS", "TEAM_SERVER_KEY, OTHER_KEY")
    with pytest.raises(InvalidInputError, match="now: TEAM_SERVER_KEY, OTHER_KEY"):
        build_backend(spec)


def test_the_dashboard_secret_goes_where_the_environment_key_would(monkeypatch):
    monkeypatch.setenv("RAGTUNE_KEY_ENVS", "TEAM_SERVER_KEY")
    with FakeServer(openai_chat("ok"), openai_chat("ok")) as server:
        url = f"{server.url}/v1"
        build_backend(parse_spec(f"openai:m?base_url={url}&key_env=TEAM_SERVER_KEY"), key="sk-team").generate(
            Prompt.ask("hi"))
        build_backend(parse_spec(f"openai:m?base_url={url}"), key="sk-team").generate(Prompt.ask("hi"))
    assert [sent_key(request) for request in server.requests] == ["Bearer sk-team", "Bearer not-needed"]
