"""Fine-tuning datasets as the lab keeps them: a store row plus two JSONL files.

`create_dataset` takes canonical examples (from `formats`, `git_history` or `from_kb`), splits them
into train and validation with a seed, measures them and checks them for leakage, writes
`<data dir>/datasets/<name>/{train,validation}.jsonl` and registers the row. The files are written
into a temporary folder that is renamed into place when complete, and the row is inserted last:
a failure at any step leaves nothing behind, and no page lists a half-written dataset.
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
from pathlib import Path
from typing import Any, Optional, Sequence

from sqlmodel import select

from core.access import Actor, Role, audit, require
from core.errors import AlreadyExistsError, InvalidInputError, NotFoundError, StoreError
from core.finetune.analysis import (base_tokenizer, eval_questions, leakage_report, length_stats, stored_questions,
                                    token_lengths)
from core.finetune.formats import check_examples, check_pairs
from core.llm.defaults import DEFAULT_MODEL
from core.rag.config import validate_name
from core.settings import get_settings
from core.store import Database
from core.store.tables import FineTuneDataset

SPLITS = ("train", "validation")
DEFAULT_VALIDATION_FRACTION = 0.1
MAX_VALIDATION_FRACTION = 0.5
PREFERENCES = "preferences"  # the source of prompt/chosen/rejected pairs (DPO's data); every other source is chats


def datasets_dir() -> Path:
    return get_settings().data_dir / "datasets"


def create_dataset(db: Database, name: str, examples: Sequence[dict], source: str, source_format: str,
                   details: Optional[dict[str, Any]] = None,
                   validation_fraction: float = DEFAULT_VALIDATION_FRACTION, seed: int = 0,
                   base: str = DEFAULT_MODEL, questions: Optional[list[tuple[str, str]]] = None, *,
                   actor: Actor) -> FineTuneDataset:
    """Split, measure, check and save `examples` as dataset `name`; admins only.

    Lengths are counted with the tokenizer of `base` (a model name or folder); `questions` are the
    ("where", question) pairs checked for leakage (default: every file in `eval_sets/` and every
    eval set in the store)."""
    name = check_may_create(db, name, actor)
    check_validation_fraction(validation_fraction)
    (check_pairs if source == PREFERENCES else check_examples)(examples)
    train, validation = split_examples(examples, validation_fraction, seed)
    lengths = token_lengths(examples, base_tokenizer(base))
    details = {**(details or {}), "seed": seed, "validation_fraction": validation_fraction,
               "token_lengths": {"base": base, **length_stats(lengths)},
               "leakage": _leakage({"train": train, "validation": validation},
                                   _all_eval_questions(db) if questions is None else questions)}
    folder = _write_folder(name, {"train": train, "validation": validation})
    try:
        with db.session() as session:
            row = FineTuneDataset(name=name, source=source, source_format=source_format, folder=str(folder),
                                  train_count=len(train), validation_count=len(validation), details=details,
                                  created_by=actor.email)
            session.add(row)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return row


def _all_eval_questions(db: Database) -> list[tuple[str, str]]:
    return eval_questions() + stored_questions(db)


def check_may_create(db: Database, name: str, actor: Actor) -> str:
    """The name, stripped, if `actor` may create a dataset under it: callers check before a long build."""
    require(actor, Role.ADMIN, "create a dataset")
    return check_new_name(db, name)


def check_new_name(db: Database, name: str) -> str:
    """The name, stripped, if a new dataset may take it: callers check it before a long build."""
    name = validate_name(name, "dataset", "support-style")
    if _find(db, name):
        raise AlreadyExistsError(f"A dataset named {name!r} exists: remove it "
                                 f"(`python -m core dataset remove {name}`), or pick another name.")
    return name


def check_validation_fraction(fraction: float) -> float:
    if not 0 < fraction <= MAX_VALIDATION_FRACTION:
        raise InvalidInputError(f"The validation fraction must be over 0 and at most {MAX_VALIDATION_FRACTION}, "
                                f"not {fraction}.")
    return fraction


def split_examples(examples: Sequence[dict], validation_fraction: float, seed: int) -> tuple[list[dict], list[dict]]:
    """(train, validation), the same for the same seed; each keeps the examples' order.

    With two or more examples, validation gets at least one and train keeps at least one."""
    count = len(examples)
    size = min(max(round(count * validation_fraction), 1), count - 1) if count >= 2 else 0
    chosen = set(random.Random(seed).sample(range(count), size))
    return ([e for i, e in enumerate(examples) if i not in chosen], [e for i, e in enumerate(examples) if i in chosen])


def list_datasets(db: Database) -> list[FineTuneDataset]:
    with db.session(immediate=False) as session:
        return list(session.exec(select(FineTuneDataset).order_by(FineTuneDataset.name)))


def get_dataset(db: Database, name: str) -> FineTuneDataset:
    row = _find(db, name)
    if row is None:
        raise NotFoundError(f"No dataset named {name!r}; `python -m core dataset list` shows them.")
    return row


def read_split(row: FineTuneDataset, split: str = "train") -> list[dict]:
    """The examples of one split of a saved dataset."""
    if split not in SPLITS:
        raise InvalidInputError(f"Unknown split {split!r}: use {' or '.join(SPLITS)}.")
    path = Path(row.folder) / f"{split}.jsonl"
    try:
        lines = path.read_text(encoding="utf-8").split("\n")
    except OSError as exc:
        raise NotFoundError(f"The {split} file of dataset {row.name!r} is missing ({path}): remove the dataset "
                            "and build it again.") from exc
    return [json.loads(line) for line in lines if line.strip()]


def remove_dataset(db: Database, name: str, *, actor: Actor) -> None:
    require(actor, Role.ADMIN, "remove a dataset")
    row = get_dataset(db, name)
    with db.session() as session:  # the row and its audit entry go together
        audit.record(session, actor, "datasets.remove", f"dataset {name}",
                     before={"source": row.source, "examples": row.train_count + row.validation_count})
        session.delete(session.get(FineTuneDataset, row.id))
    shutil.rmtree(row.folder, ignore_errors=True)


def to_jsonl(examples: Sequence[dict]) -> str:
    """One example per line (JSON escapes newlines inside strings); non-ASCII text kept readable."""
    return "".join(json.dumps(example, ensure_ascii=False) + "\n" for example in examples)


def _leakage(splits: dict[str, list[dict]], questions: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """The leakage report of each split, each entry naming its split ("example" indexes into it)."""
    return [{"split": split, **leak} for split, examples in splits.items()
            for leak in leakage_report(examples, questions)]


def _find(db: Database, name: str) -> Optional[FineTuneDataset]:
    with db.session(immediate=False) as session:
        return session.exec(select(FineTuneDataset).where(FineTuneDataset.name == name)).first()


def _write_folder(name: str, splits: dict[str, list[dict]]) -> Path:
    """`<datasets dir>/<name>/` holding one JSONL file per split, written completely before it appears."""
    root = datasets_dir()
    target = root / name
    try:
        root.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".partial", dir=root))
    except OSError as exc:
        raise StoreError(f"Cannot write datasets under {root} ({exc.strerror or exc}): "
                         "check that the data dir is writable.") from exc
    try:
        for split, examples in splits.items():
            (partial / f"{split}.jsonl").write_text(to_jsonl(examples), encoding="utf-8")
        partial.rename(target)  # fails over a non-empty folder: never replaces another dataset's files
    except BaseException as exc:
        shutil.rmtree(partial, ignore_errors=True)
        if isinstance(exc, OSError) and target.exists():
            raise AlreadyExistsError(
                f"The folder {target} exists but no dataset names it (an interrupted build left it, or another "
                "process is saving it now): delete the folder, or pick another name.") from exc
        if isinstance(exc, OSError):
            raise StoreError(f"Cannot write dataset {name!r} under {root}: {exc.strerror or exc}.") from exc
        raise
    return target
