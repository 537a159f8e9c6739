"""Answer a question from a knowledge base, with citations a person can check.

Retrieved chunks are numbered in the prompt; the model is told to answer only
from them and to cite `[n]`. Citations in the answer are resolved back to
source path and line range. When retrieval finds nothing relevant enough, the
answer is "I don't know" without asking the model at all, because a small model
given irrelevant context answers anyway. Retrieval and generation latency are
measured separately, since they are tuned by different means.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from core.llm.base import Backend, Citation, Completion, GenerationOptions, Prompt
from core.rag.retrieval import Hit, Retriever

I_DONT_KNOW = "I don't know"
# MiniLM cosine similarity: unrelated text scores ~0-0.2, a passage on the question's topic ~0.35+.
MIN_SIMILARITY = 0.3
MAX_CHUNK_CHARS = 1500  # keeps k chunks within a small model's context
SYSTEM = (
    "You answer questions using only the numbered context chunks you are given. "
    "Cite the chunks you use as [n] right after the sentence they support. "
    f"If the chunks do not contain the answer, reply exactly: {I_DONT_KNOW}."
)
_CITATION = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")


@dataclass(frozen=True)
class RagAnswer:
    question: str
    text: str
    citations: tuple[Citation, ...]  # the chunks the answer cites, in citation order
    chunks: tuple[Hit, ...]  # every chunk given to the model, numbered from 1
    retrieval_ms: float
    generation_ms: float
    completion: Completion | None = None  # None when no model was asked
    warnings: tuple[str, ...] = field(default=())

    @property
    def answered(self) -> bool:
        return self.completion is not None and not self.text.strip().startswith(I_DONT_KNOW)


def answer_questions(retriever: Retriever, backend: Backend, questions: list[str], *, k: int = 4,
                     mode: str = "hybrid", min_similarity: float = MIN_SIMILARITY,
                     options: GenerationOptions = GenerationOptions()) -> list[RagAnswer]:
    """Retrieve for every question, then ask the model once (`generate_batch`) for all the
    questions that found relevant chunks."""
    retrieved = [_retrieve(retriever, question, k, mode) for question in questions]
    asked = [i for i, (hits, _) in enumerate(retrieved) if is_relevant(hits, min_similarity)]
    prompts = [build_prompt(questions[i], retrieved[i][0]) for i in asked]
    completions = dict(zip(asked, backend.generate_batch(prompts, options) if prompts else []))
    return [_answer(question, hits, retrieval_ms, completions.get(i))
            for i, (question, (hits, retrieval_ms)) in enumerate(zip(questions, retrieved))]


def _retrieve(retriever: Retriever, question: str, k: int, mode: str) -> tuple[list[Hit], float]:
    started = time.perf_counter()
    hits = retriever.search(question, mode=mode, k=k)
    return hits, (time.perf_counter() - started) * 1000


def _answer(question: str, hits: list[Hit], retrieval_ms: float, completion: Completion | None) -> RagAnswer:
    if completion is None:  # nothing relevant: the model was not asked
        return RagAnswer(question, I_DONT_KNOW, (), tuple(hits), retrieval_ms, 0.0,
                         warnings=("No chunk was relevant enough to answer from.",))
    citations, unknown = resolve_citations(completion.text, hits)
    warnings = tuple(f"The answer cites [{n}], which is not one of the {len(hits)} chunks." for n in unknown)
    return RagAnswer(question, completion.text, citations, tuple(hits), retrieval_ms, completion.latency_ms,
                     completion, warnings + completion.warnings)


def is_relevant(hits: list[Hit], min_similarity: float) -> bool:
    """Some chunk is close enough in meaning; keyword-only results count when BM25 matched at all."""
    similarities = [h.similarity for h in hits if h.similarity is not None]
    if similarities:
        return max(similarities) >= min_similarity
    return bool(hits)


def build_prompt(question: str, hits: list[Hit]) -> Prompt:
    blocks = [f"[{n}] {hit.location}\n{hit.text[:MAX_CHUNK_CHARS]}" for n, hit in enumerate(hits, start=1)]
    context = "\n\n".join(blocks)
    return Prompt.ask(f"Context chunks:\n\n{context}\n\nQuestion: {question}\n"
                      "Answer from the chunks above and cite them as [n].", system=SYSTEM)


def resolve_citations(text: str, hits: list[Hit]) -> tuple[tuple[Citation, ...], list[int]]:
    """The cited chunks in first-citation order, and cited numbers that match no chunk."""
    cited: dict[int, Citation] = {}
    unknown: list[int] = []
    for group in _CITATION.findall(text):
        for number in (int(part) for part in group.split(",")):
            if 1 <= number <= len(hits):
                hit = hits[number - 1]
                cited.setdefault(number, Citation.numbered(number, hit))
            elif number not in unknown:
                unknown.append(number)
    return tuple(cited.values()), unknown
