"""The shipped demo, set up in one step: Ledgerly's docs (v1 and v2) as knowledge bases, their
eval sets, and the fine-tuning dataset built from v1 plus the house-style sample.

What exists already is left as it is, so running it again only adds what is missing. See
`eval_sets/demo/README.md` for what the demo shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from core.errors import NotFoundError
from core.evaluation.sets import get_eval_set, import_eval_file
from core.finetune.builders import SAMPLE_FILE, import_jsonl
from core.finetune.datasets import get_dataset
from core.rag.config import KnowledgeBaseConfig
from core.rag.knowledge import create_knowledge_base, get_knowledge_base
from core.store import Database

DEMO_DIR = Path(__file__).resolve().parents[2] / "eval_sets" / "demo"
VERSIONS = ("v1", "v2")
DATASET = "ledgerly-docs-v1"
DATASET_FILES = (SAMPLE_FILE.parent / "ledgerly-docs-v1.jsonl", SAMPLE_FILE)


@dataclass
class DemoSetup:
    created: list[str] = field(default_factory=list)  # e.g. "knowledge base ledgerly-v1"
    existing: list[str] = field(default_factory=list)


def set_up_demo(db: Database, on_step: Optional[Callable[[str], None]] = None) -> DemoSetup:
    """Create whatever of the demo is missing; `on_step(what)` is called before each creation."""
    setup = DemoSetup()
    for version in VERSIONS:
        name = f"ledgerly-{version}"
        _ensure(setup, f"knowledge base {name}", lambda: get_knowledge_base(db, name),
                lambda: create_knowledge_base(db, name, KnowledgeBaseConfig(source_path=str(DEMO_DIR / "docs" / version))),
                on_step)
        _ensure(setup, f"eval set {name}", lambda: get_eval_set(db, name),
                lambda: import_eval_file(db, DEMO_DIR / f"{name}.jsonl"), on_step)
    _ensure(setup, f"dataset {DATASET}", lambda: get_dataset(db, DATASET),
            lambda: import_jsonl(db, DATASET, b"\n".join(path.read_bytes() for path in DATASET_FILES),
                                 " + ".join(path.name for path in DATASET_FILES)), on_step)
    return setup


def _ensure(setup: DemoSetup, what: str, find, create, on_step) -> None:
    try:
        find()
        setup.existing.append(what)
        return
    except NotFoundError:
        pass
    if on_step:
        on_step(what)
    create()
    setup.created.append(what)
