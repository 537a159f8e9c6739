"""Latency spikes: found where p99 passes 2 s (saying whether retrieval or generation spikes) or is many times
p50, not found on steady latencies, and "cannot tell" on too few answers (failed ones not counted)."""

from __future__ import annotations

from sqlmodel import select

from core.diagnosis.diagnose import diagnose
from core.diagnosis.finding import Status
from core.diagnosis.modes.latency import MIN_ANSWERS
from core.diagnosis.views import diagnosis_markdown
from core.store.tables import EvalResult, KnowledgeBase
from tests.diagnosis.fixtures import BASE, RAG, Answer, reference_set, stored_answers_run


def timed_run(db, by_system: dict[str, list[Answer]]):
    reference_set(db, "timed", ["yes"] * max(len(answers) for answers in by_system.values()))
    return stored_answers_run(db, "timed", by_system)


def figure(finding, name: str):
    return next(f for f in finding.figures if f.name == name)


def test_a_retrieval_spike_is_found_with_the_index_kind_and_size_of_its_knowledge_base(db):
    with db.session() as session:
        session.add(KnowledgeBase(name="docs", status="ready", chunk_count=120_000, size_bytes=80_000_000))
    answers = [Answer(latency_ms=250.0 + 10 * n, retrieval_ms=50.0) for n in range(27)]
    answers += [Answer(latency_ms=3_200.0, retrieval_ms=3_000.0)] * 3
    run = timed_run(db, {RAG: answers})

    [finding] = diagnose(db, [run.id], modes=["latency"]).findings

    assert finding.status is Status.FOUND and finding.subject == RAG and finding.runs == (run.id,)
    p99 = figure(finding, "p99 latency")
    assert p99.value > 2_000 and p99.low <= p99.value <= p99.high and p99.n == 30
    assert figure(finding, "p99 retrieval").value > figure(finding, "p99 generation").value
    assert figure(finding, "chunks in knowledge base docs").value == 120_000
    assert all(words in finding.summary for words in ("Retrieval dominates", "HNSW", "120,000 chunks"))


def test_a_generation_spike_is_found_and_clears_the_index(db):
    answers = [Answer(latency_ms=300.0 + n) for n in range(28)] + [Answer(latency_ms=4_000.0)] * 2
    run = timed_run(db, {BASE: answers})
    [finding] = diagnose(db, [run.id], modes=["latency"]).findings
    assert finding.status is Status.FOUND and "no index is the cause" in finding.summary
    assert figure(finding, "p50 generation").value == figure(finding, "p50 latency").value


def test_a_rag_system_whose_batched_generation_spikes_is_told_its_index_is_not_the_cause(db):
    answers = [Answer(latency_ms=900.0, retrieval_ms=30.0)] * 27 + [Answer(latency_ms=6_000.0, retrieval_ms=40.0)] * 3
    run = timed_run(db, {RAG: answers})
    with db.session() as session:  # eight answers to a batch: each waited for all eight
        for answer in session.exec(select(EvalResult)):
            answer.batch_share_ms = answer.latency_ms / 8
            session.add(answer)

    [finding] = diagnose(db, [run.id], modes=["latency"]).findings

    assert finding.status is Status.FOUND and "Generation dominates" in finding.summary
    assert "the index (Chroma's HNSW (cosine) and BM25" in finding.summary and "smaller batches" in finding.summary


def test_a_tail_many_times_the_median_is_a_spike_under_two_seconds(db):
    answers = [Answer(latency_ms=100.0)] * 27 + [Answer(latency_ms=1_500.0)] * 3
    [finding] = diagnose(db, [timed_run(db, {BASE: answers}).id], modes=["latency"]).findings
    assert finding.status is Status.FOUND and figure(finding, "p99 latency").value < 2_000


def test_steady_latencies_are_not_found(db):
    answers = [Answer(latency_ms=800.0 + 20 * n, retrieval_ms=40.0) for n in range(25)]
    [finding] = diagnose(db, [timed_run(db, {RAG: answers}).id], modes=["latency"]).findings
    assert finding.status is Status.NOT_FOUND and "no spike" in finding.summary


def test_too_few_answers_cannot_tell_and_failed_answers_do_not_count(db):
    answers = [Answer(latency_ms=300.0)] * (MIN_ANSWERS - 1) + [Answer(latency_ms=30_000.0, error="timed out")] * 5
    [finding] = diagnose(db, [timed_run(db, {BASE: answers}).id], modes=["latency"]).findings
    assert finding.status is Status.CANNOT_TELL
    assert f"{MIN_ANSWERS - 1} answer(s)" in finding.summary and f"at least {MIN_ANSWERS}" in finding.summary


def test_each_system_is_judged_on_its_answers_across_the_runs_in_scope(db):
    first = timed_run(db, {BASE: [Answer(latency_ms=300.0)] * 12, RAG: [Answer(latency_ms=400.0, retrieval_ms=30.0)]})
    second = stored_answers_run(db, "timed", {BASE: [Answer(latency_ms=310.0)] * 12})
    by_subject = {f.subject: f for f in diagnose(db, [first.id, second.id], modes=["latency"]).findings}
    assert by_subject[BASE].status is Status.NOT_FOUND and by_subject[BASE].runs == (first.id, second.id)
    assert by_subject[RAG].status is Status.CANNOT_TELL


def test_what_to_do_follows_the_part_that_spikes_not_only_the_seeds_row(db):
    reference_set(db, "slow", ["x"] * 25)
    run = stored_answers_run(db, "slow", {BASE: [Answer(latency_ms=100.0 if n else 9_000.0) for n in range(25)]})
    printed = diagnosis_markdown(diagnose(db, [run.id], modes=["latency"]))
    assert "Generation, not the index, is slow: cache frequent questions" in printed
    assert "Migrate to an HNSW index" not in printed
