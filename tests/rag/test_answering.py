from tests.rag.rag_fixtures import ScriptedBackend

from core.rag.answering import I_DONT_KNOW, answer_questions, resolve_citations
from core.rag.config import KnowledgeBaseConfig
from core.rag.knowledge import create_knowledge_base, open_retriever
from core.rag.retrieval import Hit


def make_kb(db, docs):
    create_knowledge_base(db, "team", KnowledgeBaseConfig(source_path=str(docs), chunk_size=300, chunk_overlap=30))


def test_answer_numbers_the_chunks_and_resolves_citations_to_lines(db, docs):
    make_kb(db, docs)
    backend = ScriptedBackend("Refunds go to the original card within five business days [1].")
    [answer] = answer_questions(open_retriever(db, "team"), backend, ["How long do refunds take?"], k=3)
    prompt = backend.prompts[0]
    assert "only the numbered context chunks" in prompt.system and "[n]" in prompt.system
    body = prompt.messages[0].content
    assert body.index("[1] ") < body.index("[2] ") < body.index("[3] ")
    assert "Question: How long do refunds take?" in body
    assert answer.answered and len(answer.chunks) == 3
    [citation] = answer.citations
    assert citation.number == 1 and citation.source == answer.chunks[0].source == "README.md"
    assert citation.location == f"README.md:L{citation.start_line}-L{citation.end_line}"
    assert "five business days" in citation.text
    assert answer.retrieval_ms > 0 and answer.generation_ms == answer.completion.latency_ms >= 5.0


def test_nothing_relevant_means_i_dont_know_without_asking_the_model(db, docs):
    make_kb(db, docs)
    backend = ScriptedBackend()
    [answer] = answer_questions(open_retriever(db, "team"), backend, ["Who won the 1962 football world cup in Chile?"])
    assert answer.text == I_DONT_KNOW and not answer.answered
    assert backend.prompts == [] and answer.completion is None and answer.generation_ms == 0.0
    assert answer.warnings == ("No chunk was relevant enough to answer from.",)


def test_citations_to_missing_chunks_are_reported(db, docs):
    make_kb(db, docs)
    backend = ScriptedBackend("Tokens expire after an hour [2, 9].")
    [answer] = answer_questions(open_retriever(db, "team"), backend, ["When does a session token expire?"], k=2)
    assert [c.number for c in answer.citations] == [2]
    assert answer.warnings == ("The answer cites [9], which is not one of the 2 chunks.",)


def test_resolve_citations_keeps_first_citation_order_once():
    hits = [Hit(f"f{i}.md", i, i + 1, f"text {i}", id=str(i), score=0.5) for i in range(1, 4)]
    citations, unknown = resolve_citations("A [3]. B [1][3]. C [1, 2]. D [0].", hits)
    assert [c.number for c in citations] == [3, 1, 2]
    assert citations[0].location == "f3.md:L3-L4" and unknown == [0]
