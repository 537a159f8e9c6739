"""Checks a dataset gets before training: how long its examples are, and whether it leaks.

Lengths are counted in the base model's tokens, over the chat-templated conversation that training
sees, so they can be compared with the maximum sequence length. The leakage check flags training
examples whose user messages nearly repeat an evaluation question: a model trained on them would
score well on that question for the wrong reason. It takes plain (where, question) pairs, so any
source of eval questions (the files in `eval_sets/`, sets kept in the store) can be checked. Questions
tagged "training-phrasing" repeat training questions on purpose (they are asked against their
paraphrases, to measure brittleness), so they are not leaks.
"""

from __future__ import annotations

import difflib
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence

import numpy as np
import plotly.graph_objects as go

from sqlmodel import select

from core.errors import InvalidInputError, NotFoundError
from core.finetune.formats import as_chat
from core.imports import first_imports
from core.llm.defaults import DEFAULT_MODEL
from core.project import EVAL_SETS_DIR
from core.store import Database
from core.store.tables import EvalItem, EvalSet

JACCARD_THRESHOLD = 0.8  # share of distinct words in common
RATIO_THRESHOLD = 0.9  # difflib's character-level similarity
TRAINING_PHRASING_TAG = "training-phrasing"  # an eval question that is a training question, as it was trained
_PUNCTUATION = re.compile(r"[^\w\s]")


@lru_cache(maxsize=2)
def base_tokenizer(base: str = DEFAULT_MODEL) -> Any:
    """The tokenizer of a base model as the loader names it: "smollm2", a folder or a cached hub id."""
    with first_imports():
        from transformers import AutoTokenizer

    from core.llm.sources import resolve_source

    source, _name = resolve_source(base)
    try:
        return AutoTokenizer.from_pretrained(source, local_files_only=True)
    except OSError as exc:
        raise NotFoundError(f"No tokenizer for base model {base!r} is available offline: give a local model "
                            f"folder, or `smollm2` for the default. ({exc})") from exc


def token_lengths(examples: Sequence[dict], tokenizer: Any) -> list[int]:
    """Tokens of each whole conversation as the model's chat template writes it (a preference pair's:
    the prompt with its longer answer)."""
    if not examples:
        return []
    try:
        texts = [tokenizer.apply_chat_template(as_chat(example)["messages"], tokenize=False) for example in examples]
    except ValueError as exc:  # transformers' answer for a tokenizer without a chat template
        raise InvalidInputError(f"The base model's tokenizer cannot write chats ({exc}): pick an instruct or chat "
                                "model as the base.") from exc
    return [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]


def length_stats(lengths: Sequence[int]) -> dict[str, float]:
    if not lengths:
        return {"count": 0, "min": 0, "p50": 0, "p90": 0, "max": 0, "mean": 0.0}
    values = np.asarray(lengths)
    return {"count": len(lengths), "min": int(values.min()), "p50": round(np.percentile(values, 50)),
            "p90": round(np.percentile(values, 90)), "max": int(values.max()), "mean": round(float(values.mean()), 1)}


def length_histogram(lengths: Sequence[int], max_length: Optional[int] = None) -> go.Figure:
    """Examples by length in tokens; a line at `max_length`, past which training truncates."""
    figure = go.Figure(go.Histogram(x=list(lengths), nbinsx=40, marker_color="#2e86de"))
    if max_length:
        longer = sum(1 for length in lengths if length > max_length)
        figure.add_vline(x=max_length, line_dash="dash", line_color="#c0392b",
                         annotation_text=f"max length {max_length}: {longer} longer")
    figure.update_layout(xaxis_title="tokens per example", yaxis_title="examples", bargap=0.05,
                         height=280, margin=dict(l=10, r=10, t=30, b=10))
    return figure


def eval_questions(folder: Path = EVAL_SETS_DIR) -> list[tuple[str, str]]:
    """("file:line", question) for every question in the eval set files (`*.jsonl`) under `folder`."""
    found = []
    for path in sorted(folder.rglob("*.jsonl")):
        lines = path.read_text(encoding="utf-8").split("\n")
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                question = item["question"]
            except (ValueError, KeyError, TypeError) as exc:
                raise InvalidInputError(f"{path}:{number} is not an eval question ({exc}): fix the line; "
                                        "eval_sets/README.md describes the format.") from exc
            if TRAINING_PHRASING_TAG in item.get("tags", []):
                continue
            found.append((f"{path.relative_to(folder.parent)}:{number}", str(question)))
    return found


def stored_questions(db: Database) -> list[tuple[str, str]]:
    """("eval set NAME:ID", question) for every stored item: what the leakage check compares against."""
    with db.session(immediate=False) as session:
        rows = session.exec(select(EvalSet.name, EvalItem.item_id, EvalItem.question, EvalItem.tags)
                            .where(EvalItem.set_id == EvalSet.id).order_by(EvalSet.name, EvalItem.position)).all()
    return [(f"eval set {name}:{item_id}", question) for name, item_id, question, tags in rows
            if TRAINING_PHRASING_TAG not in tags]


def leakage_report(examples: Sequence[dict], questions: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
    """Examples (chats or preference pairs) whose user messages nearly repeat an eval question: one entry per
    (example, question)."""
    targets = [(where, question, _words(question)) for where, question in questions]
    flagged = []
    for index, example in enumerate(examples):
        asked = [_words(m["content"]) for m in as_chat(example)["messages"] if m["role"] == "user"]
        for where, question, target in targets:
            score = max((_similarity(text, target) for text in asked), default=0.0)
            if score:
                flagged.append({"example": index, "question_source": where, "eval_question": question,
                                "similarity": round(score, 3)})
    return flagged


def similarity(text: str, question: str) -> float:
    """How alike two texts are if they are near-duplicates once normalised (1.0 when equal), else 0."""
    return _similarity(_words(text), _words(question))


def normalise(text: str) -> str:
    """Lowercase, punctuation as spaces, single spaces."""
    return " ".join(_PUNCTUATION.sub(" ", text.lower()).split())


def _words(text: str) -> tuple[str, frozenset[str]]:
    norm = normalise(text)
    return norm, frozenset(norm.split())


def _similarity(a: tuple[str, frozenset[str]], b: tuple[str, frozenset[str]]) -> float:
    (text, words), (other, other_words) = a, b
    if not text or not other:
        return 0.0
    if text == other:
        return 1.0
    best = 0.0
    # Each measure has an upper bound from the sizes alone: skip it when that bound is under the bar.
    if min(len(words), len(other_words)) >= JACCARD_THRESHOLD * max(len(words), len(other_words)):
        jaccard = len(words & other_words) / len(words | other_words)
        best = jaccard if jaccard >= JACCARD_THRESHOLD else 0.0
    if 2 * min(len(text), len(other)) >= RATIO_THRESHOLD * (len(text) + len(other)):
        matcher = difflib.SequenceMatcher(None, text, other, autojunk=False)
        if matcher.quick_ratio() >= RATIO_THRESHOLD and matcher.ratio() >= RATIO_THRESHOLD:
            best = max(best, matcher.ratio())
    return best
