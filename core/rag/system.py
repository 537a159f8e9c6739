"""A RAG system: any backend, answering from a knowledge base.

It is itself a `Backend`, so the Playground, the CLI and evaluation ask it
like any model; its completions carry the citations and the retrieval time.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Sequence

from core.errors import InvalidInputError
from core.llm.base import Backend, Citation, Completion, GenerationOptions, Prompt
from core.rag.answering import MIN_SIMILARITY, RagAnswer, answer_questions
from core.rag.retrieval import Retriever

DEFAULT_K = 4


class RagSystem(Backend):
    def __init__(self, backend: Backend, retriever: Retriever, *, k: int = DEFAULT_K, mode: str = "hybrid",
                 min_similarity: float = MIN_SIMILARITY):
        self.backend, self.retriever = backend, retriever
        self.k, self.mode, self.min_similarity = k, mode, min_similarity
        self.model_id = backend.model_id
        self.native_batching = backend.native_batching

    def generate(self, prompt: Prompt, options: GenerationOptions = GenerationOptions()) -> Completion:
        return self.generate_batch([prompt], options)[0]

    def generate_batch(self, prompts: Sequence[Prompt],
                       options: GenerationOptions = GenerationOptions()) -> list[Completion]:
        """Retrieval for every prompt, then one batched call to the model."""
        answers = answer_questions(self.retriever, self.backend, [_question(p) for p in prompts], k=self.k,
                                   mode=self.mode, min_similarity=self.min_similarity, options=options)
        return [_as_completion(answer, self.model_id) for answer in answers]


def _question(prompt: Prompt) -> str:
    """The last user message: retrieval and the grounded prompt are built around it."""
    for message in reversed(prompt.messages):
        if message.role == "user" and message.content.strip():
            return message.content.strip()
    raise InvalidInputError("A RAG system needs a question: the prompt has no user message.")


def _as_completion(answer: RagAnswer, model_id: str) -> Completion:
    if answer.completion is None:  # nothing relevant retrieved: the model was not asked
        return Completion(answer.text, 0, 0, answer.retrieval_ms, model_id, 0.0, answer.warnings,
                          retrieval_ms=answer.retrieval_ms)
    contexts = tuple(Citation.numbered(number, hit) for number, hit in enumerate(answer.chunks, start=1))
    return replace(answer.completion, latency_ms=answer.retrieval_ms + answer.generation_ms,
                   warnings=answer.warnings, retrieval_ms=answer.retrieval_ms, citations=answer.citations,
                   contexts=contexts)
