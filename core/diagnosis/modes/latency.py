"""Query latency spikes above 2 seconds: per system, the p99 of what the asker waited against its p50, split
into retrieval and generation, so the summary says whether the index (HNSW settings, caching) or the model
is the cause.

Latency is what `core.evaluation.runs.summarise` calls it: `latency_ms` of the answers that did not fail (for a
model answering in batches, the whole batch's wall time), `retrieval_ms` the part spent retrieving."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from core.diagnosis.evidence import Evidence, spec_of
from core.diagnosis.finding import Figure, Finding, Mode, Status
from core.evaluation.stats import BOOTSTRAP_SAMPLES, CONFIDENCE
from core.store.tables import KnowledgeBase

MODE = Mode("latency", "Query latency spikes above 2 seconds at scale", "RAG",
            "A flat index: exact nearest-neighbour search is O(n) in the chunks",
            "Migrate to an HNSW index (or tune its settings); add caching for frequent queries")
SPIKE_MS = 2000.0  # the seed's symptom
# A tail this many times the median is a spike even under 2 s, once it is long enough to be felt.
TAIL_RATIO = 5.0
FELT_MS = 500.0
MIN_ANSWERS = 20  # under this, p99 is little more than the slowest answer or two
GENERATION_ADVICE = ("Generation, not the index, is slow: cache frequent questions, and try a faster model, shorter "
                     "answers or smaller batches")
WOULD_TELL = "run an eval of at least {n} questions on the system (RAG systems record retrieval time apart)."
# How the lab's retrieval finds chunks, by the spec's `mode` (hybrid when not given: `core.rag.system`), and
# what to tune there.
INDEX_KINDS = {
    "dense": ("Chroma's HNSW (cosine)", "Tune its HNSW settings (a lower ef_search) and cache frequent questions."),
    "bm25": ("BM25 (bm25s, exact keyword scoring)", "BM25 has no HNSW to tune: cache frequent questions, or search "
             "dense (Chroma's HNSW) instead."),
    "hybrid": ("Chroma's HNSW (cosine) and BM25 (bm25s), fused by reciprocal rank",
               "Tune its HNSW settings (a lower ef_search) and cache frequent questions; searching dense only "
               "shows what BM25 adds."),
}


@dataclass(frozen=True)
class Timings:
    """A system's answers in scope that did not fail: what each waited, and its retrieval part (RAG)."""

    waited: list[float]
    retrieval: list[float]
    generation: list[float]
    batch_share: list[float]
    runs: tuple[int, ...]


def detect(evidence: Evidence) -> list[Finding]:
    """One finding per system, over all its answers in scope."""
    if not evidence.runs:
        return [Finding.cannot_tell(MODE, WOULD_TELL.format(n=MIN_ANSWERS))]
    return [_finding(system, _timings(evidence, system), evidence.knowledge_bases.get(spec_of(system).kb or ""))
            for system in evidence.systems()]


def _timings(evidence: Evidence, system: str) -> Timings:
    answers = [(run.id, answer) for run in evidence.runs for answer in run.answers_of(system) if answer.error is None]
    timed = [answer for _, answer in answers if answer.retrieval_ms is not None]
    untimed = [answer.latency_ms for _, answer in answers if answer.retrieval_ms is None]
    return Timings([answer.latency_ms for _, answer in answers], [answer.retrieval_ms for answer in timed],
                   [answer.latency_ms - answer.retrieval_ms for answer in timed] + untimed,
                   [answer.batch_share_ms for _, answer in answers], tuple(dict.fromkeys(run for run, _ in answers)))


def _finding(system: str, timings: Timings, kb: Optional[KnowledgeBase]) -> Finding:
    counted = len(timings.waited)
    if counted < MIN_ANSWERS:
        return Finding.cannot_tell(
            MODE, f"{counted} answer(s) of {system} in scope, too few for a p99; "
            + WOULD_TELL.format(n=MIN_ANSWERS), system, timings.runs)
    p50, p99 = (float(np.percentile(timings.waited, q)) for q in (50, 99))
    figures = [Figure("p50 latency", p50, n=counted, unit="ms"), _p99_figure("p99 latency", timings.waited),
               *_part_figures(timings), *_index_figures(kb)]
    spiked = p99 > SPIKE_MS or (p99 > TAIL_RATIO * p50 and p99 > FELT_MS)
    shown = f"p99 {p99:,.0f} ms against p50 {p50:,.0f} ms over {counted} answers"
    if not spiked:
        return Finding(MODE, Status.NOT_FOUND, f"{shown}: no spike (p99 at most {SPIKE_MS:,.0f} ms and at most "
                       f"{TAIL_RATIO:g} times p50).", system, tuple(figures), timings.runs)
    return Finding(MODE, Status.FOUND, f"{shown}. {_cause(system, timings, kb)}", system, tuple(figures),
                   timings.runs, advice="" if _retrieval_dominates(timings) else GENERATION_ADVICE)


def _p99_figure(name: str, values: Sequence[float]) -> Figure:
    """The p99 with a seeded percentile-bootstrap interval (as `bootstrap_mean` gives the mean's)."""
    data = np.asarray(values, dtype=float)
    resampled = np.percentile(np.random.default_rng(0).choice(data, size=(BOOTSTRAP_SAMPLES, data.size)), 99, axis=1)
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(resampled, [tail, 100 - tail])
    return Figure(name, float(np.percentile(data, 99)), float(low), float(high), int(data.size), "ms")


def _part_figures(timings: Timings) -> list[Figure]:
    """p50 and p99 of retrieval (RAG systems only) and of generation."""
    figures = []
    for part, values in (("retrieval", timings.retrieval), ("generation", timings.generation)):
        if values:
            figures += [Figure(f"p50 {part}", float(np.percentile(values, 50)), n=len(values), unit="ms"),
                        _p99_figure(f"p99 {part}", values)]
    return figures


def _index_figures(kb: Optional[KnowledgeBase]) -> list[Figure]:
    if kb is None:
        return []
    return [Figure(f"chunks in knowledge base {kb.name}", kb.chunk_count, unit="chunks"),
            Figure(f"size of knowledge base {kb.name}", kb.size_bytes / 1e6, unit="MB")]


def _p99s(timings: Timings) -> tuple[float, float]:
    """(retrieval, generation) p99 in ms."""
    retrieval_p99 = float(np.percentile(timings.retrieval, 99)) if timings.retrieval else 0.0
    return retrieval_p99, float(np.percentile(timings.generation, 99))


def _retrieval_dominates(timings: Timings) -> bool:
    retrieval_p99, generation_p99 = _p99s(timings)
    return retrieval_p99 > generation_p99


def _cause(system: str, timings: Timings, kb: Optional[KnowledgeBase]) -> str:
    """Which part spikes, and so which of the seed's fixes applies."""
    retrieval_p99, generation_p99 = _p99s(timings)
    spec = spec_of(system)
    index, advice = INDEX_KINDS[spec.retrieval.get("mode", "hybrid")]
    if not _retrieval_dominates(timings):
        where = (f"Generation dominates (p99 {generation_p99:,.0f} ms against retrieval's {retrieval_p99:,.0f} ms): "
                 f"the index ({index}) is not the cause" if spec.kb else "It does not retrieve: no index is the cause")
        return (f"{where} and HNSW settings would not help; caching frequent questions would, or a faster model or "
                f"shorter answers.{_batched_note(timings)}")
    size = f" over {kb.chunk_count:,} chunks ({kb.size_bytes / 1e6:,.1f} MB)" if kb else ""
    reranker = (f" Every search also re-ranks its candidates with {kb.config['reranker_model']}, which costs "
                "more than the index." if kb and kb.config.get("reranker_model") else "")
    return (f"Retrieval dominates (p99 {retrieval_p99:,.0f} ms against generation's {generation_p99:,.0f} ms): "
            f"knowledge base {spec.kb} searches with {index}{size}. {advice}{reranker}")


def _batched_note(timings: Timings) -> str:
    """A model answering in batches makes each answer wait for its whole batch."""
    share = float(np.percentile(timings.batch_share, 50))
    waited = float(np.percentile(timings.waited, 50))
    if not 0 < share < waited / 2:
        return ""
    return (f" It answered in batches: each answer waited for its whole batch (p50 {waited:,.0f} ms, its share "
            f"{share:,.0f} ms), so smaller batches would shorten the wait.")
