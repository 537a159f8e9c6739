"""Retrieval recall below 70%: found on a knowledge base that misses the answering files, not on one that
finds them, and "cannot tell" without a RAG run scored on labelled sources."""

from __future__ import annotations

from core.diagnosis.diagnose import diagnose
from core.diagnosis.finding import Status
from tests.diagnosis.fixtures import BASE, RAG, Answer, reference_set, stored_answers_run


def recall_run(db, recalls: list[float], system: str = RAG):
    reference_set(db, "code", ["yes"] * len(recalls))
    return stored_answers_run(db, "code", {system: [Answer(scores={"recall_at_5": r}) for r in recalls]})


def test_a_knowledge_base_that_misses_the_answering_files_is_found_with_the_questions_it_missed(db):
    run = recall_run(db, [1.0, 0.0, 0.5, 0.0, 1.0, 0.0])

    [finding] = diagnose(db, [run.id], modes=["retrieval_recall"]).findings

    assert finding.status is Status.FOUND and finding.subject == "knowledge base docs"
    [figure] = finding.figures
    assert figure.name == "file recall@5" and round(figure.value, 3) == 0.417 and figure.n == 6
    assert figure.low <= figure.value <= figure.high
    assert [q.item_id for q in finding.questions] == ["q1", "q3", "q5"]
    assert finding.action.params == {"knowledge_base": "docs", "run_id": run.id, "system": RAG}


def test_a_knowledge_base_that_finds_them_is_not_found(db):
    run = recall_run(db, [1.0, 1.0, 0.5, 1.0])
    [finding] = diagnose(db, [run.id], modes=["retrieval_recall"]).findings
    assert finding.status is Status.NOT_FOUND and finding.action is None


def test_without_a_rag_run_scored_on_sources_it_cannot_tell_and_says_which_run_would(db):
    reference_set(db, "plain", ["yes", "no"])
    run = stored_answers_run(db, "plain", {BASE: [Answer(scores={"token_f1": 1.0})] * 2,
                                           RAG: [Answer(scores={"token_f1": 0.5})] * 2})
    [finding] = diagnose(db, [run.id], modes=["retrieval_recall"]).findings
    assert finding.status is Status.CANNOT_TELL and "relevant_sources" in finding.summary


def test_the_newest_run_of_a_knowledge_base_speaks_for_it(db):
    old = recall_run(db, [0.0, 0.0, 1.0])
    new = stored_answers_run(db, "code", {RAG: [Answer(scores={"recall_at_5": 1.0})] * 3})
    [finding] = diagnose(db, [old.id, new.id], modes=["retrieval_recall"]).findings
    assert finding.status is Status.NOT_FOUND and finding.runs == (new.id,)


def test_the_advised_knowledge_base_is_shown_beside_the_original_on_the_same_questions(db):
    old = recall_run(db, [0.0, 0.0, 1.0, 0.0])
    new = stored_answers_run(db, "code", {"local:smollm2?kb=docs-advised": [
        Answer(scores={"recall_at_5": r}) for r in (1.0, 0.0, 1.0, 1.0)]})
    findings = {f.subject: f for f in diagnose(db, [old.id, new.id], modes=["retrieval_recall"]).findings}
    after = findings["knowledge base docs-advised"]
    assert after.summary.startswith("Before and after the advised re-index: file recall@5 0.250 on docs "
                                    f"(run {old.id}), 0.750 on docs-advised (run {new.id}), a gain of +0.500")
    assert after.figures[-1].name == "file recall@5 gain over the original" and after.runs == (old.id, new.id)
    assert findings["knowledge base docs"].status is Status.FOUND  # the original's own finding stays
