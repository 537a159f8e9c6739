"""The one interface every model backend implements.

A backend turns a chat-style `Prompt` into a `Completion` that carries, besides
the text, what the answer cost: tokens in and out, latency and USD.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Optional, Sequence


@dataclass(frozen=True)
class Message:
    role: str  # "user" or "assistant"
    content: str


@dataclass(frozen=True)
class Prompt:
    messages: tuple[Message, ...]
    system: str = ""

    @classmethod
    def ask(cls, question: str, system: str = "") -> "Prompt":
        return cls((Message("user", question),), system)


@dataclass(frozen=True)
class GenerationOptions:
    max_new_tokens: int = 256
    temperature: float = 0.0  # 0 means greedy
    stop: tuple[str, ...] = ()
    seed: Optional[int] = None  # sampled generation repeats with the same seed (and the same batch)


@dataclass(frozen=True)
class Passage:
    """Lines of a source file: what retrieval finds (`core.rag.retrieval.Hit`) and what an answer cites."""

    source: str
    start_line: int
    end_line: int
    text: str

    @property
    def location(self) -> str:
        return f"{self.source}:L{self.start_line}-L{self.end_line}"


@dataclass(frozen=True)
class Citation(Passage):
    """A passage an answer was given, and may cite, as [number]."""

    number: int = 0

    @classmethod
    def numbered(cls, number: int, passage: Passage) -> "Citation":
        return cls(passage.source, passage.start_line, passage.end_line, passage.text, number)


@dataclass(frozen=True)
class Completion:
    text: str
    input_tokens: int
    output_tokens: int
    latency_ms: float  # end to end: what the person asking waited, retrieval included
    model: str
    cost_usd: float
    warnings: tuple[str, ...] = field(default=())
    retrieval_ms: Optional[float] = None  # the part of latency_ms spent retrieving (RAG systems)
    citations: tuple[Citation, ...] = field(default=())
    contexts: tuple[Citation, ...] = field(default=())  # RAG systems: every chunk the model was given


def cost_line(answer) -> str:
    """What an answer cost, in one line: for a `Completion` or a stored answer
    (anything with the same fields), as the CLI and the dashboard show it."""
    retrieval = "" if answer.retrieval_ms is None else f" (retrieval {answer.retrieval_ms:.0f} ms)"
    return (f"{answer.model} · {answer.input_tokens} in / {answer.output_tokens} out tokens · "
            f"{answer.latency_ms / 1000:.2f} s{retrieval} · ${answer.cost_usd:.6f}")


class Backend(ABC):
    """A model that answers prompts. Subclasses implement `generate`."""

    model_id: str
    # True where `generate_batch` is one batched computation (a local model); others are asked per
    # prompt, several at a time, so one failure fails only its own prompt.
    native_batching: bool = False

    @abstractmethod
    def generate(self, prompt: Prompt, options: GenerationOptions = GenerationOptions()) -> Completion:
        ...

    def generate_batch(self, prompts: Sequence[Prompt],
                       options: GenerationOptions = GenerationOptions()) -> list[Completion]:
        """Many prompts at once; backends that can batch override this."""
        return [self.generate(prompt, options) for prompt in prompts]
