"""Fine-tuning examples written by a model from a knowledge base's chunks.

A chosen system (the local model, Claude, any OpenAI-compatible server) reads one chunk at a time
and writes question / answer pairs about it. Models do not always answer in clean JSON, so replies
are read tolerantly: JSON fenced or bare, a list or one object, else "Question: ... Answer: ..."
text as small models write it. A reply with nothing usable is counted, not fatal, unless no reply
at all gave a pair. Each example keeps the chunk it came from in "source", so a reviewer can check
the answer against it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from core.errors import InvalidInputError
from core.llm.base import Backend, GenerationOptions, Passage, Prompt
from core.rag.indexer import generation_dir
from core.rag.knowledge import get_knowledge_base
from core.rag.lexical import Bm25Index
from core.store import Database

EXAMPLE_FORMAT = "qa_pairs"  # stored as the dataset's source_format
BATCH = 8  # prompts per generate_batch call of a local model; an API is asked one prompt at a time
TOKENS_PER_PAIR = 160
MAX_PAIRS_PER_CHUNK = 10
SYSTEM_PROMPT = "You write question and answer pairs for training an assistant. You reply with JSON only."
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)
_QUESTION_LABEL = re.compile(r"^[\s#*]*(?:\d+[.)]\s*)?\**(?:question|q)\s*\d*\**\s*:\**", re.IGNORECASE | re.MULTILINE)
_ANSWER_LABEL = re.compile(r"^[\s*]*(?:answer|a)\s*\d*\**\s*:\**", re.IGNORECASE | re.MULTILINE)
Progress = Callable[[str, float], None]


@dataclass
class KbExamples:
    kb: str
    model: str
    chunks: int  # chunks the model was asked about
    examples: list[dict] = field(default_factory=list)
    bad_replies: int = 0  # replies without a single readable pair
    dropped_pairs: int = 0  # items of readable replies lacking a question or an answer, or repeating one
    cost_usd: float = 0.0


def check_request(db: Database, kb: str, limit: int, pairs_per_chunk: int) -> None:
    """Refuse a request that cannot be answered, before a model is loaded or an API paid."""
    if limit < 1 or not 1 <= pairs_per_chunk <= MAX_PAIRS_PER_CHUNK:
        raise InvalidInputError(f"limit must be at least 1 and pairs per chunk between 1 and {MAX_PAIRS_PER_CHUNK}.")
    _live_keyword_index(db, kb)


def _live_keyword_index(db: Database, name: str) -> Path:
    row = get_knowledge_base(db, name)
    folder = generation_dir(name, row.generation) / "bm25"
    if row.generation == 0 or not folder.is_dir():
        raise InvalidInputError(f"Knowledge base {name!r} has no finished index: re-index it first.")
    return folder


def kb_passages(db: Database, name: str) -> list[Passage]:
    """Every chunk of a knowledge base's live index, by file and line."""
    folder = _live_keyword_index(db, name)
    by_file = Bm25Index.load(folder).chunks_by_file()  # it keeps every chunk's text and place: no Chroma needed
    return [passage for source in sorted(by_file) for passage in by_file[source]]


def examples_from_kb(db: Database, kb: str, backend: Backend, limit: int = 20, pairs_per_chunk: int = 3,
                     progress: Optional[Progress] = None) -> KbExamples:
    """Ask `backend` for `pairs_per_chunk` pairs about each of up to `limit` chunks of `kb`.
    `progress` hears before each batch (each prompt, for an API); raising there stops the writing."""
    check_request(db, kb, limit, pairs_per_chunk)
    report = progress or (lambda _stage, _fraction: None)
    passages = spread(kb_passages(db, kb), limit)
    result = KbExamples(kb=kb, model=backend.model_id, chunks=len(passages))
    options = GenerationOptions(max_new_tokens=TOKENS_PER_PAIR * pairs_per_chunk)
    first_bad = ""
    size = BATCH if backend.native_batching else 1
    for start in range(0, len(passages), size):
        report(f"Writing pairs: {start}/{len(passages)} chunks", start / len(passages))
        batch = passages[start:start + size]
        for passage, reply in zip(batch, backend.generate_batch([_prompt(p, pairs_per_chunk) for p in batch],
                                                                options)):
            result.cost_usd += reply.cost_usd
            pairs, dropped = parse_pairs(reply.text)
            result.dropped_pairs += dropped
            if not pairs:
                result.bad_replies += 1
                first_bad = first_bad or reply.text
            result.examples += [_example(q, a, passage) for q, a in pairs[:pairs_per_chunk]]
    report("Done", 1.0)
    if not result.examples:
        raise InvalidInputError(
            f"{result.model} wrote no usable question/answer pairs for {len(passages)} chunk(s) of {kb!r}; "
            f"its first reply began {first_bad.strip()[:200]!r}. "
            "Try a stronger system, e.g. anthropic:claude-sonnet-4-5.")
    return result


def spread(passages: list[Passage], limit: int) -> list[Passage]:
    """At most `limit` passages, evenly spaced, so a small limit still covers many files."""
    if len(passages) <= limit:
        return passages
    return [passages[i * len(passages) // limit] for i in range(limit)]


def parse_pairs(reply: str) -> tuple[list[tuple[str, str]], int]:
    """The (question, answer) pairs in a model's reply, and how many of its items were unusable
    (incomplete, or repeating an earlier question)."""
    fenced = _FENCE.search(reply)
    text = (fenced.group(1) if fenced else reply).strip()
    start, end = text.find("["), text.rfind("]")
    for candidate in ([text[start:end + 1]] if 0 <= start < end else []) + [text]:
        try:
            pairs, dropped = _json_pairs(json.loads(candidate))
            break
        except ValueError:
            continue
    else:
        pairs, dropped = _labelled_pairs(reply)
    unique = _unique(pairs)
    return unique, dropped + len(pairs) - len(unique)


def _json_pairs(data: Any) -> tuple[list[tuple[str, str]], int]:
    if isinstance(data, dict) and "question" not in data:  # e.g. {"pairs": [...]}
        data = next((value for value in data.values() if isinstance(value, list)), [])
    items = data if isinstance(data, list) else [data]
    pairs = [(item["question"].strip(), item["answer"].strip()) for item in items
             if isinstance(item, dict) and _text(item.get("question")) and _text(item.get("answer"))]
    return pairs, len(items) - len(pairs)


def _labelled_pairs(reply: str) -> tuple[list[tuple[str, str]], int]:
    """Pairs written as "Question: ... / Answer: ..." (or Q:/A:, numbered, in bold), as small models do."""
    blocks = _QUESTION_LABEL.split(reply)[1:]
    parts = [_ANSWER_LABEL.split(block, maxsplit=1) for block in blocks]
    pairs = [(q.strip(), a.strip()) for q, a in (p for p in parts if len(p) == 2) if q.strip() and a.strip()]
    return pairs, len(blocks) - len(pairs)


def _unique(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The first pair of each question (small models repeat themselves)."""
    seen: set[str] = set()
    unique = []
    for question, answer in pairs:
        if question.lower() not in seen:
            seen.add(question.lower())
            unique.append((question, answer))
    return unique


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _prompt(passage: Passage, pairs: int) -> Prompt:
    return Prompt.ask(
        f"Write {pairs} question and answer pair(s) about the passage below, from {passage.location}. "
        "Each question must be answerable from the passage alone; each answer must be correct and complete "
        'on its own. Reply with only a JSON list: [{"question": "...", "answer": "..."}]\n\n'
        f"Passage:\n{passage.text}", system=SYSTEM_PROMPT)


def _example(question: str, answer: str, passage: Passage) -> dict:
    return {"messages": [{"role": "user", "content": question}, {"role": "assistant", "content": answer}],
            "source": f"kb:{passage.location}"}
