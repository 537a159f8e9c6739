"""Registered adapters: where they live and how a name finds one.

A fine-tuning job writes and registers adapters (`core.finetune.adapters`);
everything that asks a model with an adapter (a spec's `adapter=NAME`, the
model server's model list, the pages) only reads them, from here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from sqlmodel import select

from core.errors import NotFoundError
from core.paths import model_folder
from core.settings import get_settings
from core.store import Database
from core.store.tables import Adapter


def adapters_dir() -> Path:
    return get_settings().models_dir / "adapters"


def list_adapters(db: Database) -> list[Adapter]:
    with db.session(immediate=False) as session:
        return list(session.exec(select(Adapter).order_by(Adapter.created_at.desc())))  # type: ignore[attr-defined]


def find_adapter(db: Database, name: str) -> Optional[Adapter]:
    with db.session(immediate=False) as session:
        return session.exec(select(Adapter).where(Adapter.name == name)).first()


def get_adapter(db: Database, name: str) -> Adapter:
    row = find_adapter(db, name)
    if row is None:
        raise NotFoundError(f"No adapter named {name!r}: the Fine-tune page and `python -m core jobs list` "
                            "show what was trained.")
    return row


def adapter_path(db: Database, name_or_path: str) -> str:
    """A registered adapter's folder by name; a typed path (anything with a slash) if it may be read."""
    if "/" in name_or_path or "\\" in name_or_path or Path(name_or_path).expanduser().is_dir():
        return str(model_folder(name_or_path))
    return get_adapter(db, name_or_path).path
