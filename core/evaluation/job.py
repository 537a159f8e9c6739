"""The "eval" job kind: what the worker runs for an eval run.

Each system answers the set's items in batches: a local model in one
`generate_batch` call (a batch that fails as a whole is asked again item by
item, so one bad item fails alone), an API per item, a few at a time. A system
that cannot be built records the error for each of its items. Nothing is
skipped silently, and a resumed run asks only what has no answer yet. A
re-score grades stored answers again without asking anyone.
"""

from __future__ import annotations

import importlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from typing import Any, Callable, Optional

from core.errors import BackendError, LabError
from core.evaluation.catalog import CATALOG, JUDGE_CORRECTNESS, JUDGE_SPREAD, RAGAS_METRICS, Needs, item_needs
from core.evaluation.judge import judge_repeatedly
from core.evaluation.metrics import Graded, semantic_similarity
from core.evaluation.runs import (SEMANTIC, RunOptions, Score, answered_items, finish_run, forget_failed_answers,
                                  get_run, run_items, save_answers, save_scores, unscored)
from core.evaluation.sets import EvidenceLines, eval_items
from core.jobs.context import JobContext
from core.jobs.kinds import JobCancelled, JobKind
from core.llm.base import Backend, Citation, Completion, GenerationOptions, Prompt
from core.llm.spec import SystemSpec, parse_spec
from core.playground import answer_record
from core.store import Database
from core.store.tables import EvalItem, EvalResult, EvalRun
from core.systems import build_system

Outcome = Completion | LabError
API_CONCURRENCY = 4  # requests in flight per API system
RESCORE_BATCH = 16
RAGAS_MODULE = "core.evaluation.ragas_metrics"


class EvalJob(JobKind):
    name = "eval"

    def validate(self, config: dict[str, Any]) -> None:
        from core.store import current_database

        get_run(current_database(), config["run_id"])

    def target(self, config: dict[str, Any]) -> str:
        return f"run {config['run_id']}"

    def run(self, context: JobContext) -> dict[str, Any]:
        run = get_run(context.db, context.config["run_id"])
        if "rescore" in context.config:
            return _rescore(context, run, context.config["rescore"])
        if "pairwise" in context.config:
            return _pairwise(context, run, *context.config["pairwise"], judge=context.config["judge"])
        if context.resuming:  # a question that failed (a 429, a timeout) is asked again, like one not yet asked
            context.log(f"asking again the {forget_failed_answers(context.db, run.id)} question(s) that failed")
        items = run_items(context.db, run)
        options = RunOptions(**run.options)
        grader = Grader(run.metrics, run.judge, options.judge_repeats)
        batch_size = options.batch_size
        total, done = len(items) * len(run.systems), 0
        configs = {}
        for system in run.systems:
            pending = [i for i in items if i.item_id not in answered_items(context.db, run.id, system)]
            done += len(items) - len(pending)
            backend, configs[system] = _build(context.db, system)
            for start in range(0, len(pending), batch_size):
                if context.cancel_requested():
                    raise JobCancelled({"run_id": run.id, "answered": done})
                batch = pending[start:start + batch_size]
                _answer_batch(context, run, system, backend, batch, grader)
                done += len(batch)
                context.progress(done / total, f"{system}: {done} of {total} answers")
        finish_run(context.db, run.id, configs)
        return {"run_id": run.id, "answers": total}


def _rescore(context: JobContext, run: EvalRun, metrics: list[str]) -> dict[str, Any]:
    """Grade the stored answers that have none of `metrics` yet; the systems are not asked again."""
    grader = Grader(metrics, run.judge, RunOptions(**run.options).judge_repeats)
    items = {item.item_id: item for item in eval_items(context.db, run.eval_set)}
    todo = unscored(context.db, run.id, metrics)
    for start in range(0, len(todo), RESCORE_BATCH):
        if context.cancel_requested():
            raise JobCancelled({"run_id": run.id, "rescored": start})
        batch = todo[start:start + RESCORE_BATCH]
        answers = [_stored_completion(result) for result in batch]
        save_scores(context.db, batch, grader.grade([items[r.item_id] for r in batch], answers))
        context.progress((start + len(batch)) / len(todo), f"re-scored {start + len(batch)} of {len(todo)} answers")
    finish_run(context.db, run.id, run.system_configs)
    return {"run_id": run.id, "rescored": len(todo)}


def _pairwise(context: JobContext, run: EvalRun, system_a: str, system_b: str, judge: str) -> dict[str, Any]:
    from core.evaluation.pairwise import judge_pairs

    report = context.reporter({"run_id": run.id})  # a cancel stops it after the verdict being judged
    outcome = judge_pairs(context.db, run.id, system_a, system_b, judge, build_system(parse_spec(judge)),
                          progress=lambda fraction, text: report(text, fraction),
                          checkpoint=context.work_dir / "pairwise-verdicts.jsonl")
    return {key: value for key, value in outcome.items() if key != "verdicts"}


def _stored_completion(result: EvalResult) -> Completion:
    """A stored answer as the grader sees a fresh one, with every chunk its system was given."""
    return Completion(result.text, result.input_tokens, result.output_tokens, result.latency_ms, result.model,
                      result.cost_usd, contexts=tuple(Citation(**context) for context in result.contexts))


def _build(db: Database, system: str) -> tuple[Backend | LabError, dict[str, Any]]:
    """The system (or why it cannot be built) and what its spec resolved to."""
    spec = parse_spec(system)
    try:
        backend = build_system(spec)
    except LabError as exc:
        return exc, {"spec": system, "error": str(exc)}
    return backend, {"spec": system, "model_id": backend.model_id, **_resolved(db, spec)}


def _resolved(db: Database, spec: SystemSpec) -> dict[str, Any]:
    """The adapter's folder and the knowledge base's live generation, for the record."""
    from core.llm.adapters import adapter_path
    from core.rag.knowledge import get_knowledge_base

    resolved: dict[str, Any] = {}
    if "adapter" in spec.options:
        resolved["adapter_path"] = adapter_path(db, spec.options["adapter"])
    if spec.kb:
        kb = get_knowledge_base(db, spec.kb)
        resolved["knowledge_base"] = {"name": kb.name, "generation": kb.generation, "config": kb.config}
    return resolved


def _answer_batch(context: JobContext, run: EvalRun, system: str, backend: Backend | LabError,
                  batch: list[EvalItem], grader: "Grader") -> None:
    """Ask, time, grade and save one batch (a system that could not be built fails each item)."""
    options = RunOptions(**run.options).generation
    started = time.perf_counter()
    outcomes = [backend] * len(batch) if isinstance(backend, LabError) else _ask(backend, batch, options, context.log)
    share_ms = (time.perf_counter() - started) * 1000 / len(batch)
    results = [EvalResult(run_id=run.id, item_id=item.item_id, position=item.position, batch_share_ms=share_ms,
                          contexts=[asdict(c) for c in getattr(outcome, "contexts", ())],
                          **answer_record(system, outcome))
               for item, outcome in zip(batch, outcomes)]
    save_answers(context.db, results, grader.grade(batch, outcomes))


def _ask(backend: Backend, batch: list[EvalItem], options: GenerationOptions,
         log: Callable[[str], None]) -> list[Outcome]:
    """A local model answers the batch in one call; an API is asked per item, a few at a time."""
    prompts = [Prompt.ask(item.question) for item in batch]
    if not backend.native_batching:
        with ThreadPoolExecutor(min(API_CONCURRENCY, len(prompts))) as pool:
            return list(pool.map(lambda prompt: _ask_one(backend, prompt, options), prompts))
    try:
        return list(backend.generate_batch(prompts, options))
    except Exception as exc:  # one bad item must not fail its neighbours: ask them one by one
        log(f"a batch of {len(batch)} failed ({type(exc).__name__}: {exc}); asking its items one by one")
        return [_ask_one(backend, prompt, options) for prompt in prompts]


def _ask_one(backend: Backend, prompt: Prompt, options: GenerationOptions) -> Outcome:
    try:
        return backend.generate(prompt, options)
    except LabError as exc:
        return exc
    except Exception as exc:
        return BackendError(f"{type(exc).__name__}: {exc}")


class Grader:
    """Scores answers with the run's metrics and its judge, which grades each answer `judge_repeats` times
    (more than once: the spread of its grades is a score too). The judge is built at once (a judge that
    cannot be built fails the run before any answer); the embedding model and ragas load on first need."""

    def __init__(self, metrics: list[str], judge_spec: Optional[str] = None, judge_repeats: int = 1):
        self.metrics = metrics
        self.judge_backend = build_system(parse_spec(judge_spec)) if judge_spec and JUDGE_CORRECTNESS in metrics \
            else None
        self.judge_spec = judge_spec
        self.judge_repeats = judge_repeats
        self._ragas = None
        if any(metric in RAGAS_METRICS for metric in metrics):
            # ragas (and langchain) take seconds to import: do it while the first system's model loads
            threading.Thread(target=importlib.import_module, args=(RAGAS_MODULE,), daemon=True).start()
        self._embedder = None

    def grade(self, batch: list[EvalItem], outcomes: list[Outcome]) -> list[dict[str, Score]]:
        """Each answer's {metric: (value, reason)}; failed answers and metrics that do not apply get none."""
        answered = [(item, outcome) for item, outcome in zip(batch, outcomes) if isinstance(outcome, Completion)]
        graded = [_graded(item, outcome) for item, outcome in answered]
        applicable = [[metric for metric in self.metrics if CATALOG[metric].applies(_present(item, outcome))]
                      for item, outcome in answered]
        scores = [{metric: (CATALOG[metric].per_answer(g), None) for metric in metrics if CATALOG[metric].per_answer}
                  for g, metrics in zip(graded, applicable)]
        if SEMANTIC in self.metrics:
            for by_metric, similarity in zip(scores, semantic_similarity(graded, self._embed)):
                by_metric[SEMANTIC] = (similarity, None)
        if any(metric in RAGAS_METRICS for metric in self.metrics):
            samples = [_sample(item, outcome) for item, outcome in answered]
            for by_metric, ragas_scores in zip(scores, self._ragas_grader().score(samples)):
                by_metric.update(ragas_scores)
        if self.judge_backend is not None:
            for by_metric, (item, outcome), metrics in zip(scores, answered, applicable):
                if JUDGE_CORRECTNESS in metrics:
                    judgement = judge_repeatedly(self.judge_backend, item.question, item.reference_answer,
                                                 outcome.text, self.judge_repeats)
                    by_metric[JUDGE_CORRECTNESS] = (judgement.value, judgement.reason)
                    if self.judge_repeats > 1:
                        by_metric[JUDGE_SPREAD] = (judgement.spread, judgement.spread_reason)
        # A metric that does not apply has no row; a failed one keeps its reason.
        pending = iter([{m: s for m, s in by_metric.items() if s[0] is not None or s[1] is not None}
                        for by_metric in scores])
        return [next(pending) if isinstance(outcome, Completion) else {} for outcome in outcomes]

    def _ragas_grader(self):
        if self._ragas is None:
            from core.evaluation.ragas_metrics import RagasGrader  # waits for the import begun in __init__

            self._ragas = RagasGrader(self.metrics, self.judge_spec, self._embed)
        return self._ragas

    def _embed(self, texts: list[str]):
        if self._embedder is None:
            from core.rag.config import DEFAULT_EMBEDDING_MODEL
            from core.rag.embeddings import Embedder, resolve_model_path

            self._embedder = Embedder(resolve_model_path(DEFAULT_EMBEDDING_MODEL))
        return self._embedder.embed(texts)


def _graded(item: EvalItem, answer: Completion) -> Graded:
    return Graded(answer.text, item.reference_answer, tuple(item.keywords),
                  retrieved=answer.contexts or None, relevant_sources=tuple(item.relevant_sources),
                  evidence=tuple(EvidenceLines(**span) for span in item.evidence))


def _present(item: EvalItem, answer: Completion) -> frozenset[Needs]:
    """What an answer to an item comes with, as the catalog says metrics need it."""
    return item_needs(item) | ({Needs.RETRIEVAL} if answer.contexts else set())


def _sample(item: EvalItem, answer: Completion):
    from core.evaluation.ragas_metrics import Sample

    return Sample(item.question, answer.text, item.reference_answer, tuple(c.text for c in answer.contexts),
                  tuple(item.reference_contexts))
