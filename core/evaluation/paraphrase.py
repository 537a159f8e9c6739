"""A pair of eval sets from a fine-tuning dataset: its training questions as trained, and the same questions
reworded, so Diagnose can measure an adapter's brittleness on paraphrases (the seed's sixth failure mode).

A chosen system rewords each question; the local embedding model keeps a paraphrase only when it means the same:
its cosine with the question is at least `MIN_SIMILARITY`, and it is not the question again. The threshold is
measured, not guessed: with all-MiniLM-L6-v2, the 40 hand-written paraphrases of the ledgerly demo score 0.45-0.87
against their questions (median 0.70), and unrelated questions of the same docs score 0.23 (median) to 0.52
(most). 0.8 would drop three good paraphrases in four; 0.6 keeps four in five and stays above every unrelated
pair. A cosine cannot tell "the monthly price" from "the annual price", so a reviewer still reads the sets.

Each item's reference is the dataset's answer, whole: graded by token_f1 (contains_reference is for short
references), the same on both sets. The two sets share item ids (`t` and the example's place in the training
split) and are tagged "training-phrasing" and "paraphrase", as the detector pairs them.
Here, not in core.finetune: it writes eval sets, which live a layer above datasets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from core.access import Actor, Role, require
from core.errors import InvalidInputError, NotFoundError
from core.evaluation.metrics import normalise
from core.evaluation.sets import ItemLine, get_eval_set, import_eval_set
from core.finetune.analysis import TRAINING_PHRASING_TAG
from core.finetune.datasets import get_dataset, read_split
from core.finetune.from_kb import BATCH, spread
from core.llm.base import Backend, GenerationOptions, Prompt
from core.llm.spec import SystemSpec, parse_spec
from core.store import Database
from core.systems import build_system

MIN_SIMILARITY = 0.6
DEFAULT_LIMIT = 40
PARAPHRASE_TAG = "paraphrase"  # the set of reworded questions; TRAINING_PHRASING_TAG marks the other
SYSTEM_PROMPT = "You reword questions. You reply with the reworded question only."
_LABEL = re.compile(r"^\W*(?:reworded question|rephrased question|paraphrase|question)\W*?:\W*", re.IGNORECASE)
Progress = Callable[[str, float], None]
Embed = Callable[[list[str]], np.ndarray]  # one unit-length row per text


@dataclass
class Paraphrased:
    training_set: str
    paraphrase_set: str
    asked: int  # questions the system was asked to reword
    kept: int
    dropped: dict[str, int] = field(default_factory=dict)  # reason -> count
    cost_usd: float = 0.0


def set_names(dataset: str) -> tuple[str, str]:
    return f"{dataset}-training", f"{dataset}-paraphrased"


def drop_reason(question: str, paraphrase: str, similarity: float) -> Optional[str]:
    """Why a paraphrase is not kept, or None when it is."""
    if not paraphrase.strip():
        return "empty"
    if normalise(paraphrase) == normalise(question):
        return "the question again"
    if similarity < MIN_SIMILARITY:
        return f"meaning drifted (cosine below {MIN_SIMILARITY})"
    return None


def clean_reply(reply: str) -> str:
    """The reworded question in a reply: its first line, without quotes or a label such as "Paraphrase:"."""
    lines = [line.strip() for line in reply.strip().strip("`").splitlines() if line.strip()]
    return _LABEL.sub("", lines[0]).strip().strip("\"'“”").strip() if lines else ""


def paraphrase_eval_sets(db: Database, dataset: str, system: str, limit: int = DEFAULT_LIMIT,
                         progress: Optional[Progress] = None,
                         backend_for: Callable[[SystemSpec], Backend] = build_system,
                         embed: Optional[Embed] = None, *, actor: Actor) -> Paraphrased:
    """Ask `system` (a spec) to reword up to `limit` training questions of `dataset`, and store the questions
    kept as two eval sets (`set_names`). `embed` defaults to the local embedding model. Admins only."""
    require(actor, Role.ADMIN, "import an eval set")
    names = set_names(dataset)
    _check_free(db, names)  # before a model is loaded or an API paid
    if limit < 1:
        raise InvalidInputError("limit must be at least 1.")
    spec = parse_spec(system)
    exchanges = spread(training_exchanges(read_split(get_dataset(db, dataset), "train")), limit)
    if not exchanges:
        raise InvalidInputError(f"No training example of {dataset!r} opens with a user's question to reword.")
    report = progress or (lambda _stage, _fraction: None)
    report(f"Loading {system}", 0.0)
    backend = backend_for(spec)
    rewordings, cost = _reworded(backend, [question for _, question, _ in exchanges], report)
    kept, dropped = _sift(exchanges, rewordings, embed or _local_embed())
    if not kept:
        raise InvalidInputError(f"None of {backend.model_id}'s {len(exchanges)} rewordings kept the question's "
                                f"meaning ({_counts(dropped)}); try a stronger system.")
    _store(db, names, kept, f"dataset {dataset}, reworded by {system}", actor)
    report("Done", 1.0)
    return Paraphrased(*names, asked=len(exchanges), kept=len(kept), dropped=dropped, cost_usd=cost)


def training_exchanges(examples: list[dict]) -> list[tuple[int, str, str]]:
    """(place in the split from 1, question, answer): each example's first user message and the reply to it."""
    exchanges = []
    for place, example in enumerate(examples, start=1):
        messages = [m for m in example["messages"] if m["role"] != "system"]
        if len(messages) >= 2 and messages[0]["role"] == "user" and messages[1]["role"] == "assistant":
            exchanges.append((place, messages[0]["content"], messages[1]["content"]))
    return exchanges


def _check_free(db: Database, names: tuple[str, ...]) -> None:
    for name in names:
        try:
            get_eval_set(db, name)
        except NotFoundError:
            continue
        raise InvalidInputError(f"An eval set named {name!r} exists: remove it (`python -m core evalset remove "
                                f"{name}`) to write the pair again.")


def _reworded(backend: Backend, questions: list[str], report: Progress) -> tuple[list[str], float]:
    """The system's rewording of each question (a batch at a time, for a local model), and what it cost."""
    size = BATCH if backend.native_batching else 1
    rewordings, cost = [], 0.0
    for start in range(0, len(questions), size):
        report(f"Rewording: {start}/{len(questions)} questions", start / len(questions))
        replies = backend.generate_batch([_prompt(q) for q in questions[start:start + size]],
                                         GenerationOptions(max_new_tokens=96))
        rewordings += [clean_reply(reply.text) for reply in replies]
        cost += sum(reply.cost_usd for reply in replies)
    return rewordings, cost


def _prompt(question: str) -> Prompt:
    return Prompt.ask("Reword the question below so that it asks for exactly the same thing in different words: "
                      "change the sentence structure and the vocabulary, keep every name, number and condition. "
                      f"Reply with the reworded question only.\n\nQuestion: {question}", system=SYSTEM_PROMPT)


def _local_embed() -> Embed:
    from core.rag.embeddings import load_embedder  # loads torch: only when no embedding is given

    return load_embedder().embed


def _sift(exchanges: list[tuple[int, str, str]], rewordings: list[str],
          embed: Embed) -> tuple[list[tuple[tuple[int, str, str], str]], dict[str, int]]:
    """The (exchange, rewording) pairs kept, and how many were dropped for each reason."""
    vectors = embed([question for _, question, _ in exchanges] + rewordings)
    similarities = (vectors[:len(exchanges)] * vectors[len(exchanges):]).sum(axis=1)
    kept, dropped = [], {}
    for exchange, rewording, similarity in zip(exchanges, rewordings, similarities):
        reason = drop_reason(exchange[1], rewording, float(similarity))
        if reason:
            dropped[reason] = dropped.get(reason, 0) + 1
        else:
            kept.append((exchange, rewording))
    return kept, dropped


def _store(db: Database, names: tuple[str, str], kept: list[tuple[tuple[int, str, str], str]], source: str,
           actor: Actor) -> None:
    """The kept questions as trained, then reworded: the same ids and references in both sets."""
    trained = [ItemLine(id=f"t{place:03d}", question=question, reference_answer=answer,
                        tags=[TRAINING_PHRASING_TAG]) for (place, question, answer), _ in kept]
    reworded = [item.model_copy(update={"question": rewording, "tags": [PARAPHRASE_TAG]})
                for item, (_, rewording) in zip(trained, kept)]
    for name, items in zip(names, (trained, reworded)):
        import_eval_set(db, name, "\n".join(item.model_dump_json(exclude_defaults=True) for item in items), source,
                        actor=actor)


def _counts(dropped: dict[str, int]) -> str:
    return ", ".join(f"{count} {reason}" for reason, count in dropped.items())
