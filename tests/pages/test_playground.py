from streamlit.testing.v1 import AppTest

from core.serving.lifecycle import health, running_server, stop_server
from tests.llm.fake_servers import FakeServer, anthropic_message
from tests.pages.conftest import open_page


def playground() -> AppTest:
    return open_page("pages/playground.py", timeout=60)


def ask(at: AppTest, question: str, systems: list[str]) -> AppTest:
    at.multiselect(key="playground_systems").set_value(systems)
    at.text_area(key="playground_question").input(question)
    at.button[0].click()
    return at.run()


def test_the_page_offers_presets_with_the_default_model_chosen():
    at = playground()
    assert not at.exception
    systems = at.multiselect(key="playground_systems")
    assert systems.value == ["local"]
    assert "anthropic:claude-sonnet-4-5" in systems.options


def test_answers_appear_in_columns_and_a_failing_system_shows_its_error(tiny_model_dir):
    at = ask(playground(), "Capital of France?", [f"local:{tiny_model_dir}?dtype=float32", "anthropic"])
    assert not at.exception
    assert any("ANTHROPIC_API_KEY" in e.value for e in at.error)
    assert any("local:tiny-chat" in c.value and "out tokens" in c.value and "$" in c.value for c in at.caption)
    assert any("Capital of France?" in e.label for e in at.expander)  # saved in the history


def test_the_key_comes_from_streamlit_secrets_and_only_where_the_operator_allows(monkeypatch):
    monkeypatch.setenv("RAGTUNE_KEY_ENVS", "PROXY_KEY")
    at = playground()
    at.secrets["ANTHROPIC_API_KEY"] = "sk-anthropic-secret"
    at.secrets["PROXY_KEY"] = "sk-from-secrets"
    with FakeServer(anthropic_message("Paris.", input_tokens=9, output_tokens=2), anthropic_message("Rome.")) as server:
        at = ask(at, "Capital of France?", [f"anthropic?base_url={server.url}&key_env=PROXY_KEY",
                                            f"anthropic?base_url={server.url}"])
    assert not at.exception and not at.error
    sent = [request["headers"]["authorization"] for request in server.requests]
    assert "sk-from-secrets" in sent[0] and "not-needed" in sent[1]
    assert any(m.value == "Paris." for m in at.markdown)
    assert any("9 in / 2 out tokens" in c.value for c in at.caption)


def test_an_empty_question_is_refused_with_a_message():
    at = ask(playground(), "   ", ["local"])
    assert not at.exception
    assert any("question is empty" in e.value for e in at.error)


def test_a_rag_system_shows_the_chunks_its_answer_cites(db, tmp_path, monkeypatch):
    from core.rag.config import KnowledgeBaseConfig
    from core.rag.knowledge import create_knowledge_base
    from tests.llm.fake_servers import openai_chat

    monkeypatch.setenv("RAGTUNE_ALLOWED_ROOTS", str(tmp_path))
    (tmp_path / "handbook").mkdir()
    (tmp_path / "handbook" / "refunds.md").write_text(
        "# Refunds\n\nRefunds go back to the original card within five business days.\n")
    create_knowledge_base(db, "handbook", KnowledgeBaseConfig(source_path=str(tmp_path / "handbook")))
    at = playground()
    assert "local?kb=handbook" in at.multiselect(key="playground_systems").options
    with FakeServer(openai_chat("Within five business days [1].")) as server:
        at = ask(at, "How long do refunds take?", [f"openai:served?base_url={server.url}&kb=handbook"])
    assert not at.exception and not at.error
    assert "Context chunks" in server.requests[0]["json"]["messages"][-1]["content"]
    assert any(e.label.startswith("[1] refunds.md:L") for e in at.expander)
    assert any("(retrieval " in c.value for c in at.caption)


def test_local_models_answer_through_the_model_server_when_the_app_asks_for_it(tiny_model_dir, monkeypatch):
    monkeypatch.setenv("RAGTUNE_MODEL_SERVER", "on")  # what app.py sets for `make app`
    try:
        at = ask(playground(), "Capital of France?", [f"local:{tiny_model_dir}?dtype=float32"])
        assert not at.exception and not at.error
        assert any("local:tiny-chat" in c.value and "out tokens" in c.value for c in at.caption)
        stats = health(running_server().url)["stats"]
        assert stats["requests"] == 1 and stats["compute_thread"] == "MainThread"
    finally:
        stop_server()
