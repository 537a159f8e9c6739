"""A RAG system: any backend, answering from a knowledge base.

It is itself a `Backend`, so the Playground, the CLI and evaluation ask it
like any model; its completions carry the citations and the retrieval time.
"""

from __future__ import annotations

from dataclasses import replace

from core.errors import InvalidInputError
from core.llm.base import Backend, Completion, GenerationOptions, Prompt
from core.rag.answering import MIN_SIMILARITY, RagAnswer, answer_question
from core.rag.retrieval import Retriever

DEFAULT_K = 4


class RagSystem(Backend):
    def __init__(self, backend: Backend, retriever: Retriever, *, k: int = DEFAULT_K, mode: str = "hybrid",
                 min_similarity: float = MIN_SIMILARITY):
        self.backend, self.retriever = backend, retriever
        self.k, self.mode, self.min_similarity = k, mode, min_similarity
        self.model_id = backend.model_id

    def generate(self, prompt: Prompt, options: GenerationOptions = GenerationOptions()) -> Completion:
        question = _question(prompt)
        answer = answer_question(self.retriever, self.backend, question, k=self.k, mode=self.mode,
                                 min_similarity=self.min_similarity, options=options)
        return _as_completion(answer, self.model_id)


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
    return replace(answer.completion, latency_ms=answer.retrieval_ms + answer.generation_ms,
                   warnings=answer.warnings, retrieval_ms=answer.retrieval_ms, citations=answer.citations)
