"""RAG systems named by `?kb=NAME` specs: the Playground, the CLI and evaluation ask them like models."""

import pytest
from tests.rag.rag_fixtures import ScriptedBackend

from core.access import LOCAL_ADMIN
from core.cli import main
from core.errors import InvalidInputError
from core.llm.base import GenerationOptions, Prompt
from core.llm.spec import parse_spec
from core.playground import ask_and_save
from core.rag.config import KnowledgeBaseConfig
from core.rag.knowledge import create_knowledge_base
from core.rag.system import RagSystem
from core.systems import build_system


@pytest.fixture
def team_kb(db, docs):
    create_knowledge_base(db, "team", KnowledgeBaseConfig(source_path=str(docs), chunk_size=300, chunk_overlap=30))
    return "team"


def scripted(*answers):
    backend = ScriptedBackend(*answers)
    return backend, (lambda spec: backend)


def test_a_kb_spec_wraps_the_model_it_names_and_carries_citations(team_kb):
    model, build_model = scripted("Refunds take five business days [1].")
    system = build_system(parse_spec("local?kb=team&k=3&mode=bm25"), build_model=build_model)
    assert isinstance(system, RagSystem) and (system.k, system.mode) == (3, "bm25")
    completion = system.generate(Prompt.ask("How long do refunds take?", system="Be brief."))
    assert "Context chunks" in model.prompts[0].messages[0].content
    [citation] = completion.citations
    assert citation.source == "README.md" and "five business days" in citation.text
    assert 0 < completion.retrieval_ms < completion.latency_ms


def test_nothing_relevant_answers_i_dont_know_at_no_cost(team_kb):
    model, build_model = scripted()
    system = build_system(parse_spec("local?kb=team"), build_model=build_model)
    completion = system.generate(Prompt.ask("Who won the 1962 football world cup in Chile?"))
    assert completion.text == "I don't know" and model.prompts == []
    assert (completion.input_tokens, completion.output_tokens, completion.cost_usd) == (0, 0, 0.0)
    assert completion.latency_ms == completion.retrieval_ms > 0


def test_a_real_local_model_answers_from_the_knowledge_base(team_kb, tiny_model_dir):
    system = build_system(parse_spec(f"local:{tiny_model_dir}?kb=team&k=2"))
    completion = system.generate(Prompt.ask("How long do refunds take?"), GenerationOptions(max_new_tokens=4))
    assert completion.model.endswith("tiny-chat") and completion.output_tokens > 0
    assert completion.retrieval_ms is not None and completion.latency_ms > completion.retrieval_ms


def test_the_playground_records_citations_and_retrieval_time(db, team_kb):
    _, build_model = scripted("Five business days [1].")
    exchange = ask_and_save(db, "How long do refunds take?", ["local?kb=team"],
                            backend_for=lambda spec: build_system(spec, build_model=build_model), actor=LOCAL_ADMIN)
    [answer] = exchange.answers
    assert answer.error is None and answer.retrieval_ms > 0
    assert answer.citations[0]["source"] == "README.md" and answer.citations[0]["number"] == 1


def test_the_cli_asks_a_rag_system(team_kb, tiny_model_dir, capsys):
    assert main(["ask", f"local:{tiny_model_dir}?kb=team", "How long do refunds take?",
                 "--max-new-tokens", "4"]) == 0
    assert "(retrieval " in capsys.readouterr().out


def test_retrieval_options_need_a_knowledge_base():
    with pytest.raises(InvalidInputError, match="only apply with kb=NAME"):
        parse_spec("local?k=3")
    with pytest.raises(InvalidInputError, match="mode='fuzzy' is not one of hybrid, dense, bm25"):
        parse_spec("local?kb=team&mode=fuzzy")
    assert parse_spec("local?kb=team&mode=dense&k=2").text == "local:smollm2?k=2&kb=team&mode=dense"


def test_a_batch_retrieves_for_every_question_then_asks_the_model_once(team_kb, tiny_model_dir):
    from core.llm.local import LocalBackend
    from core.rag.knowledge import open_retriever
    from core.store import current_database

    class CountingBackend(LocalBackend):
        batches: list[int] = []

        def generate_batch(self, prompts, options=GenerationOptions()):
            self.batches.append(len(prompts))
            return super().generate_batch(prompts, options)

    model = CountingBackend(str(tiny_model_dir), dtype="float32")
    system = RagSystem(model, open_retriever(current_database(), team_kb), k=2)
    questions = ["How long do refunds take?", "Who won the 1962 football world cup in Chile?", "How do refunds work?"]
    answers = system.generate_batch([Prompt.ask(q) for q in questions], GenerationOptions(max_new_tokens=4))
    assert model.batches == [2] and system.native_batching  # the irrelevant question never reached the model
    assert answers[1].text == "I don't know" and answers[1].contexts == ()
    assert [len(a.contexts) for a in (answers[0], answers[2])] == [2, 2]
    assert answers[0].contexts[0].number == 1 and "refund" in " ".join(c.text for c in answers[0].contexts).lower()


def test_a_missing_knowledge_base_is_reported_before_any_model_loads(db):
    from core.errors import NotFoundError

    loaded = []
    with pytest.raises(NotFoundError, match="No knowledge base named 'typo'"):
        build_system(parse_spec("local?kb=typo"), build_model=lambda spec: loaded.append(spec))
    assert loaded == []
