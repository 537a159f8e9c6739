"""Trained adapters: written whole or not at all, registered, found by name, merged.

An adapter folder is written under a hidden temporary name and renamed into
`<models_dir>/adapters/NAME` only when complete, and the lab lists adapters
from their rows: no page ever offers a half-written one. A job that stopped
between the rename and the row left a whole adapter with no row: asking for
its name again registers it from the record saved beside it (and says so).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Optional

from core.access import Actor, Role, audit, require
from core.errors import AlreadyExistsError
from core.llm.adapters import adapters_dir, find_adapter, get_adapter
from core.rag.config import validate_name
from core.rag.indexer import Progress
from core.settings import get_settings
from core.store import Database
from core.store.tables import Adapter, Job

TRAINING_CONFIG_FILE = "training_config.json"
RECORD_FIELDS = ("base_model", "dataset", "job_id", "config", "final_validation_loss", "train_seconds", "cost_usd")


def merged_dir() -> Path:
    return get_settings().models_dir / "merged"


def validate_adapter_name(db: Database, name: str) -> str:
    name = validate_name(name, what="adapter", example="support-style-v1")
    if find_adapter(db, name) is not None:
        raise AlreadyExistsError(f"An adapter named {name!r} exists: pick another name, or remove it first.")
    if (adapters_dir() / name).exists():
        row = adopt_adapter(db, name)
        by_job = f" by job {row.job_id}" if row.job_id else ""
        raise AlreadyExistsError(
            f"An adapter named {name!r} was saved{by_job} but not registered (the job stopped in between): it "
            f"is registered now, so `local?adapter={name}` uses it. Pick another name, or remove it first.")
    return name


def adopt_adapter(db: Database, name: str) -> Adapter:
    """Register the folder `adapters/NAME` that has no row, from the record saved beside it.
    A folder without a usable record was not written by a training job: it is left alone."""
    folder = adapters_dir() / name
    record = _saved_record(folder)
    with db.session(immediate=False) as session:
        if record.get("job_id") is not None and session.get(Job, record["job_id"]) is None:
            record["job_id"] = None  # the job was removed since
    return _register(db, name, folder, record)


def _saved_record(folder: Path) -> dict[str, Any]:
    try:
        saved = json.loads((folder / TRAINING_CONFIG_FILE).read_text(encoding="utf-8"))
        record = {key: saved[key] for key in RECORD_FIELDS if key in saved}
        if not {"base_model", "dataset"} <= record.keys():
            raise ValueError("no base_model or dataset")
    except (OSError, ValueError, TypeError) as exc:
        raise AlreadyExistsError(
            f"{folder} exists but was not saved by a training job (its {TRAINING_CONFIG_FILE} cannot be "
            f"used: {exc}): move it out of {adapters_dir()}, or pick another name.") from exc
    return record


def save_adapter(db: Database, model: Any, name: str, record: dict[str, Any]) -> Adapter:
    """Write the peft `model`'s adapter with our `record` beside it, then register it.

    `record` holds the row's fields (base_model, dataset, job_id, config,
    final_validation_loss, train_seconds, cost_usd); it is also saved as
    `training_config.json` with the library versions."""
    target = adapters_dir() / name
    partial = adapters_dir() / f".{name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    model.save_pretrained(str(partial))
    (partial / TRAINING_CONFIG_FILE).write_text(json.dumps({**record, "versions": library_versions()}, indent=2))
    if target.exists():
        shutil.rmtree(partial, ignore_errors=True)
        raise AlreadyExistsError(f"{target} appeared while training: the adapter was not saved over it.")
    partial.rename(target)
    try:
        return _register(db, name, target, record)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise


def _register(db: Database, name: str, folder: Path, record: dict[str, Any]) -> Adapter:
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    with db.session() as session:
        row = Adapter(name=name, path=str(folder), size_bytes=size, **record)
        session.add(row)
    return row


def library_versions() -> dict[str, str]:
    from importlib.metadata import version

    return {name: version(name) for name in ("torch", "transformers", "peft", "bitsandbytes")}


def remove_adapter(db: Database, name: str, actor: Actor) -> None:
    require(actor, Role.ADMIN, "remove an adapter")
    row = get_adapter(db, name)
    with db.session() as session:
        audit.record(session, actor, "adapters.remove", f"adapter {name}", before={"base_model": row.base_model})
        session.delete(session.get(Adapter, row.id))
    shutil.rmtree(row.path, ignore_errors=True)
    if row.merged_path:
        shutil.rmtree(row.merged_path, ignore_errors=True)


def merge_adapter(db: Database, name: str, progress: Optional[Progress] = None) -> Path:
    """The base model with the adapter merged into its weights, as a folder
    `local:PATH` loads without peft (made once, then reused). `progress(what, fraction)`
    hears of each step before it starts; raising there stops between steps."""
    from core.llm.loading import apply_adapter, load_pretrained
    from core.llm.sources import resolve_source

    report = progress or (lambda _what, _fraction: None)
    row = get_adapter(db, name)
    if row.merged_path and Path(row.merged_path, "config.json").is_file():
        return Path(row.merged_path)
    report(f"Loading the base model {row.base_model}", 0.0)
    folder, _ = resolve_source(row.base_model)
    model, tokenizer = load_pretrained(folder)
    report(f"Merging {name} into its weights", 1 / 3)
    merged = apply_adapter(model, row.path)
    report("Saving the merged model", 2 / 3)
    target = merged_dir() / name
    partial = merged_dir() / f".{name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    merged.save_pretrained(str(partial))
    tokenizer.save_pretrained(str(partial))
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    with db.session() as session:
        stored = session.get(Adapter, row.id)
        stored.merged_path = str(target)
        session.add(stored)
    return target
