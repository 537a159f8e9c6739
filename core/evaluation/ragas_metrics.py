"""Metrics that ragas computes, by ragas itself: 0.4's collections API where a metric lives
there, its single-turn API for the non-LLM context metrics that exist only in the legacy set.

Offline: string similarity, BLEU, ROUGE-L, non-LLM context precision and recall. With a
judge: faithfulness, answer relevancy, context precision and context recall. ragas asks the
judge through an async SDK client: Anthropic's for Claude, OpenAI's for an OpenAI-compatible
server and for the local model, which the local model server serves.

Importing this module imports ragas (and langchain behind it, a few seconds): the grader
imports it only for a run that asks for one of these metrics.
"""

from __future__ import annotations

import asyncio
import math
import os
import warnings
from dataclasses import dataclass
from typing import Awaitable, Callable, Optional

# ragas sends usage analytics over the network unless told not to; nothing leaves this machine.
os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")

import anthropic  # noqa: E402 (after the analytics switch, which ragas reads on import)
import numpy as np
import openai
from pydantic import ValidationError
from ragas.dataset_schema import SingleTurnSample
from ragas.embeddings.base import BaseRagasEmbedding
from ragas.llms import llm_factory
from ragas.metrics.collections import (AnswerRelevancy, BleuScore, ContextPrecisionWithReference, ContextRecall,
                                       Faithfulness, NonLLMStringSimilarity, RougeScore)

with warnings.catch_warnings():  # ragas asks for the collections API, which lacks these two
    warnings.simplefilter("ignore", DeprecationWarning)
    from ragas.metrics import NonLLMContextPrecisionWithReference, NonLLMContextRecall

from core.errors import InvalidInputError
from core.evaluation.catalog import CATALOG, RAGAS_METRICS, Needs
from core.llm.registry import BACKENDS
from core.llm.spec import SystemSpec, parse_spec

Score = tuple[Optional[float], Optional[str]]
Embed = Callable[[list[str]], np.ndarray]
CONCURRENCY = 4  # judge requests in flight
JUDGE_MAX_TOKENS = 1024  # ragas's own default: statement lists need room
LOCAL_JUDGE_MAX_TOKENS = 384  # a small local model rarely finishes valid JSON; fail it sooner
# How ragas reaches each provider a backend names (`BackendInfo.ragas_provider`): an async client.
_ASYNC_CLIENTS = {"anthropic": anthropic.AsyncAnthropic, "openai": openai.AsyncOpenAI}


@dataclass(frozen=True)
class Sample:
    """What ragas sees of one answer."""

    question: str
    answer: str
    reference: Optional[str] = None
    retrieved: tuple[str, ...] = ()  # RAG systems: every chunk the model was given, best first
    reference_contexts: tuple[str, ...] = ()

    @property
    def present(self) -> frozenset[Needs]:
        there = {Needs.REFERENCE: self.reference is not None, Needs.RETRIEVAL: bool(self.retrieved),
                 Needs.REFERENCE_CONTEXTS: bool(self.reference_contexts)}
        return frozenset(need for need, present in there.items() if present)


def applies(metric: str, sample: Sample) -> bool:
    """Whether the sample has what the catalog says `metric` needs (a reference, retrieved chunks, ...)."""
    return CATALOG[metric].applies(sample.present)


class RagasGrader:
    """Scores samples with ragas metrics; every failure is kept as a score without value and its reason."""

    def __init__(self, metrics: list[str], judge: Optional[str], embed: Embed, concurrency: int = CONCURRENCY):
        self.metrics = [metric for metric in metrics if metric in RAGAS_METRICS]
        needing_judge = [metric for metric in self.metrics if CATALOG[metric].needs_judge]
        if needing_judge and not judge:
            raise InvalidInputError(f"{', '.join(needing_judge)} need(s) a judge: choose one, or leave them out.")
        self.judge = parse_spec(judge) if judge and needing_judge else None
        self.embed = embed
        self.concurrency = concurrency

    def score(self, samples: list[Sample]) -> list[dict[str, Score]]:
        """Each sample's {metric: (value, reason)}, for the metrics that apply to it."""
        return asyncio.run(self._score(samples))

    async def _score(self, samples: list[Sample]) -> list[dict[str, Score]]:
        # Built inside the event loop: async SDK clients belong to the loop they first ran on.
        scorers = {**_offline_scorers(), **(_judge_scorers(self.judge, self.embed) if self.judge else {})}
        limit = asyncio.Semaphore(self.concurrency)

        async def one(metric: str, sample: Sample) -> Score:
            async with limit:
                try:
                    value = await scorers[metric](sample)
                except Exception as exc:  # the judge's refusals, timeouts and invalid replies alike
                    return None, f"ragas {metric} failed: {_describe(exc)}"
            if value is None or math.isnan(value):
                return None, f"ragas {metric} gave no score (NaN): nothing in the answer to judge"
            return float(value), None

        todo = [(i, metric) for i, sample in enumerate(samples) for metric in self.metrics if applies(metric, sample)]
        scores = await asyncio.gather(*(one(metric, samples[i]) for i, metric in todo))
        graded: list[dict[str, Score]] = [{} for _ in samples]
        for (i, metric), score in zip(todo, scores):
            graded[i][metric] = score
        return graded


Scorer = Callable[[Sample], Awaitable[Optional[float]]]


async def _value(result) -> float:
    return (await result).value


def _offline_scorers() -> dict[str, Scorer]:
    similarity, bleu, rouge = NonLLMStringSimilarity(), BleuScore(), RougeScore(rouge_type="rougeL")
    precision, recall = NonLLMContextPrecisionWithReference(), NonLLMContextRecall()

    def contexts(sample: Sample) -> SingleTurnSample:
        return SingleTurnSample(retrieved_contexts=list(sample.retrieved),
                                reference_contexts=list(sample.reference_contexts))

    return {
        "string_similarity": lambda s: _value(similarity.ascore(reference=s.reference, response=s.answer)),
        "bleu": lambda s: _value(bleu.ascore(reference=s.reference, response=s.answer)),
        "rouge_l": lambda s: _value(rouge.ascore(reference=s.reference, response=s.answer)),
        "nonllm_context_precision": lambda s: precision.single_turn_ascore(contexts(s)),
        "nonllm_context_recall": lambda s: recall.single_turn_ascore(contexts(s)),
    }


def _judge_scorers(judge: SystemSpec, embed: Embed) -> dict[str, Scorer]:
    llm = judge_llm(judge)
    faithfulness, relevancy = Faithfulness(llm=llm), AnswerRelevancy(llm=llm, embeddings=LocalEmbeddings(embed))
    precision, recall = ContextPrecisionWithReference(llm=llm), ContextRecall(llm=llm)
    return {
        "faithfulness": lambda s: _value(faithfulness.ascore(user_input=s.question, response=s.answer,
                                                             retrieved_contexts=list(s.retrieved))),
        "answer_relevancy": lambda s: _value(relevancy.ascore(user_input=s.question, response=s.answer)),
        "context_precision": lambda s: _value(precision.ascore(user_input=s.question, reference=s.reference,
                                                               retrieved_contexts=list(s.retrieved))),
        "context_recall": lambda s: _value(recall.ascore(user_input=s.question, reference=s.reference,
                                                         retrieved_contexts=list(s.retrieved))),
    }


def judge_llm(judge: SystemSpec):
    """ragas's LLM for the judge, over an async twin of the client the judge's backend uses."""
    from core.systems import build_system

    if judge.kb:
        raise InvalidInputError(f"The judge {judge.text} answers from a knowledge base: a judge is a model alone.")
    info = BACKENDS[judge.backend]
    if info.runs_locally:
        return llm_factory(judge.text, provider="openai", client=_local_server_client(),
                           max_tokens=LOCAL_JUDGE_MAX_TOKENS)
    if info.ragas_provider not in _ASYNC_CLIENTS:
        raise InvalidInputError(f"ragas cannot use {judge.text} as its judge: choose a local model or an API "
                                f"backend ragas knows ({', '.join(_ASYNC_CLIENTS)}).")
    sync = build_system(judge).client
    client = _ASYNC_CLIENTS[info.ragas_provider](api_key=sync.api_key, base_url=sync.base_url,
                                                 max_retries=sync.max_retries, timeout=sync.timeout)
    llm = llm_factory(judge.model, provider=info.ragas_provider, client=client, max_tokens=JUDGE_MAX_TOKENS)
    if info.ragas_provider == "anthropic":
        for argument in ("temperature", "top_p"):  # the Anthropic SDK refuses them beside each other
            llm.model_args.pop(argument, None)
    return llm


def _local_server_client() -> openai.AsyncOpenAI:
    """The local model server (started if none runs for this data dir), as ragas reaches it."""
    from core.serving.lifecycle import ensure_server

    return openai.AsyncOpenAI(base_url=f"{ensure_server().url}/v1", api_key="not-needed", max_retries=0,
                              timeout=600)


class LocalEmbeddings(BaseRagasEmbedding):
    """The lab's local embedding model, as ragas's answer relevancy asks for embeddings."""

    def __init__(self, embed: Embed):
        super().__init__()
        self._embed = embed

    def embed_text(self, text: str, **kwargs) -> list[float]:
        return self.embed_texts([text])[0]

    async def aembed_text(self, text: str, **kwargs) -> list[float]:
        return self.embed_text(text)

    def embed_texts(self, texts: list[str], **kwargs) -> list[list[float]]:
        return [row.tolist() for row in self._embed(list(texts))]

    async def aembed_texts(self, texts: list[str], **kwargs) -> list[list[float]]:
        return self.embed_texts(texts)


def _describe(exc: BaseException) -> str:
    """What went wrong under instructor, which wraps the SDK's errors (429, timeouts) and invalid replies alike."""
    while type(exc).__module__.startswith("instructor") and exc.__cause__ is not None:
        exc = exc.__cause__
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    what = "the judge's reply is not the structured output asked for, " if isinstance(exc, ValidationError) else ""
    return f"{what}{type(exc).__name__}: {' '.join(lines[:2])[:300]}"
