"""The Playground: ask several systems one question, keep what each answered.

A system that fails (no key, server down, a bad spec) is recorded with its
error in its own answer; the others still answer. Building backends is the
caller's: the dashboard caches loaded models, the CLI does not need to.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable, Optional, Sequence

from sqlmodel import col, select

from core.access import Actor, Role, require
from core.errors import BackendError, InvalidInputError, LabError
from core.llm.base import Backend, Completion, GenerationOptions, Prompt
from core.llm.registry import BACKENDS
from core.llm.spec import SystemSpec, parse_spec
from core.store import Database
from core.store.tables import PlaygroundAnswer, PlaygroundQuestion
from core.systems import build_system

MAX_SYSTEMS = 4
HEADING_CHARS = 80
PRESETS = tuple(preset for info in BACKENDS.values() for preset in info.presets)
BackendFactory = Callable[[SystemSpec], Backend]


@dataclass(frozen=True)
class Exchange:
    """A saved question with its answers, in the order the systems were asked."""

    question: PlaygroundQuestion
    answers: list[PlaygroundAnswer]

    @property
    def heading(self) -> str:
        """"2026-12-06 09:05 · What is ...": when it was asked, and the question's start."""
        return f"{self.question.asked_at:%Y-%m-%d %H:%M} · {self.question.question[:HEADING_CHARS]}"


def preset_systems(adapters: Sequence[str] = (), knowledge_bases: Sequence[str] = ()) -> list[str]:
    """Systems offered by name: the built-in presets; SmolLM2 answering from each
    knowledge base (RAG); SmolLM2 with each registered LoRA adapter (fine-tuned),
    alone and answering from each knowledge base (RAG + fine-tuned)."""
    tuned = [f"local?adapter={name}" for name in adapters]
    return [*PRESETS, *(f"local?kb={kb}" for kb in knowledge_bases), *tuned,
            *(f"{system}&kb={kb}" for system in tuned for kb in knowledge_bases)]


def check_question(question: str, systems: Sequence[str]) -> None:
    if not question.strip():
        raise InvalidInputError("The question is empty: type a question first.")
    if not systems:
        raise InvalidInputError("No system chosen: pick at least one system to ask.")
    if len(systems) > MAX_SYSTEMS:
        raise InvalidInputError(f"{len(systems)} systems chosen: the Playground compares at most {MAX_SYSTEMS}.")


def answer_record(system: str, outcome: Completion | LabError) -> dict:
    """The `RecordedAnswer` fields for a completion or for the error that replaced it."""
    if isinstance(outcome, LabError):
        return {"system": system, "error": str(outcome)}
    return {"system": system, "model": outcome.model, "text": outcome.text,
            "input_tokens": outcome.input_tokens, "output_tokens": outcome.output_tokens,
            "latency_ms": outcome.latency_ms, "cost_usd": outcome.cost_usd,
            "warnings": list(outcome.warnings), "retrieval_ms": outcome.retrieval_ms,
            "citations": [asdict(citation) for citation in outcome.citations]}


def ask_one(system: str, prompt: Prompt, options: GenerationOptions,
            backend_for: BackendFactory = build_system) -> Completion | LabError:
    """The completion, or the `LabError` that stopped this system (never raised)."""
    try:
        return backend_for(parse_spec(system)).generate(prompt, options)
    except LabError as exc:
        return exc
    except Exception as exc:  # e.g. out of memory: one system's crash must not hide the others' answers
        return BackendError(f"{system} failed unexpectedly ({type(exc).__name__}: {exc}).")


def ask_and_save(db: Database, question: str, systems: Sequence[str], options: GenerationOptions = GenerationOptions(),
                 system_prompt: str = "", backend_for: BackendFactory = build_system,
                 on_system: Optional[Callable[[int, str], None]] = None, *, actor: Actor) -> Exchange:
    """Ask every system `question` (one after the other), save and return the exchange.
    `on_system(position, system)` is called before each, for progress display."""
    require(actor, Role.REVIEWER, "ask in the Playground")
    check_question(question, systems)
    prompt = Prompt.ask(question.strip(), system=system_prompt.strip())
    records = []
    for position, system in enumerate(systems):
        if on_system:
            on_system(position, system)
        records.append(answer_record(system, ask_one(system, prompt, options, backend_for)))
    with db.session() as session:
        row = PlaygroundQuestion(question=prompt.messages[0].content, system_prompt=prompt.system,
                                 options={**asdict(options), "stop": list(options.stop)})
        session.add(row)
        session.flush()
        answers = [PlaygroundAnswer(question_id=row.id, position=i, **record) for i, record in enumerate(records)]
        session.add_all(answers)
    return Exchange(question=row, answers=answers)


def list_history(db: Database, limit: int = 20) -> list[Exchange]:
    """The latest exchanges, newest first."""
    with db.session(immediate=False) as session:
        questions = session.exec(
            select(PlaygroundQuestion).order_by(col(PlaygroundQuestion.id).desc()).limit(limit)).all()
        ids = [q.id for q in questions]
        answers = session.exec(select(PlaygroundAnswer).where(col(PlaygroundAnswer.question_id).in_(ids))
                               .order_by(PlaygroundAnswer.question_id, PlaygroundAnswer.position)).all()
    by_question: dict[int, list[PlaygroundAnswer]] = {i: [] for i in ids}
    for answer in answers:
        by_question[answer.question_id].append(answer)
    return [Exchange(question=q, answers=by_question[q.id]) for q in questions]

