import pytest

from core.access import LOCAL_ADMIN
from core.errors import InvalidInputError
from core.llm.base import GenerationOptions
from core.playground import MAX_SYSTEMS, ask_and_save, list_history
from tests.llm.fake_servers import FakeServer, anthropic_message

OPTIONS = GenerationOptions(max_new_tokens=4)


def test_every_system_answers_and_failing_ones_record_their_error(db, tiny_model_dir):
    systems = [f"local:{tiny_model_dir}?dtype=float32", "anthropic", "nonsense:x"]
    asked = []
    exchange = ask_and_save(db, " Capital of France? ", systems, OPTIONS, system_prompt="Be brief.",
                            on_system=lambda i, s: asked.append(i), actor=LOCAL_ADMIN)
    local, no_key, bad = exchange.answers
    assert asked == [0, 1, 2]
    assert exchange.question.question == "Capital of France?"
    assert exchange.question.options == {"max_new_tokens": 4, "temperature": 0.0, "stop": [], "seed": None}
    assert local.error is None and local.model == "local:tiny-chat" and local.output_tokens >= 1
    assert "ANTHROPIC_API_KEY" in no_key.error and no_key.text == ""
    assert bad.error.startswith("Unknown backend 'nonsense'")


def test_answers_from_an_api_are_saved_with_tokens_and_cost(db, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    with FakeServer(anthropic_message("Paris.", input_tokens=9, output_tokens=2)) as server:
        exchange = ask_and_save(db, "Capital of France?", [f"anthropic?base_url={server.url}"], OPTIONS,
                                actor=LOCAL_ADMIN)
    (answer,) = exchange.answers
    assert (answer.text, answer.input_tokens, answer.output_tokens) == ("Paris.", 9, 2)
    assert answer.cost_usd == pytest.approx((9 * 3 + 2 * 15) / 1e6) and answer.latency_ms > 0


def test_history_lists_exchanges_newest_first_with_answers_in_column_order(db, tiny_model_dir):
    first = ask_and_save(db, "first?", ["nonsense", "local:/no/such/folder"], OPTIONS, actor=LOCAL_ADMIN)
    second = ask_and_save(db, "second?", ["nonsense"], OPTIONS, actor=LOCAL_ADMIN)
    history = list_history(db)
    assert [e.question.id for e in history] == [second.question.id, first.question.id]
    assert [a.system for a in history[1].answers] == ["nonsense", "local:/no/such/folder"]
    assert "outside the folders the lab may read" in history[1].answers[1].error
    assert history[0].question.options["stop"] == []
    assert len(list_history(db, limit=1)) == 1


def test_an_unexpected_crash_stays_in_its_own_answer(db):
    def exploding(spec):
        raise RuntimeError("CUDA out of memory")

    (answer,) = ask_and_save(db, "q?", ["local"], OPTIONS, backend_for=exploding, actor=LOCAL_ADMIN).answers
    assert answer.error == "local failed unexpectedly (RuntimeError: CUDA out of memory)."


def test_a_missing_knowledge_base_fails_in_its_own_answer(db):
    (answer,) = ask_and_save(db, "q?", ["local?kb=handbook"], OPTIONS, actor=LOCAL_ADMIN).answers
    assert "No knowledge base named 'handbook'" in answer.error


@pytest.mark.parametrize("question, systems, problem", [
    ("  ", ["local"], "question is empty"),
    ("q?", [], "No system chosen"),
    ("q?", ["local"] * (MAX_SYSTEMS + 1), "at most 4"),
])
def test_bad_requests_are_refused_before_asking_anyone(db, question, systems, problem):
    with pytest.raises(InvalidInputError, match=problem):
        ask_and_save(db, question, systems, OPTIONS, actor=LOCAL_ADMIN)
    assert list_history(db) == []


def test_an_exchange_is_headed_by_its_time_and_the_start_of_its_question(db):
    long_question = "Why " + "really " * 30 + "?"
    exchange = ask_and_save(db, long_question, ["nonsense"], OPTIONS, actor=LOCAL_ADMIN)
    asked, question = exchange.heading.split(" · ")
    assert asked == f"{exchange.question.asked_at:%Y-%m-%d %H:%M}"
    assert question == long_question[:80] and len(question) == 80
