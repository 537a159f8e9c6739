"""The shipped demos, each set up in one step.

- `ledgerly`: Ledgerly's docs (v1 and v2) as knowledge bases, their eval sets, and the fine-tuning
  dataset built from v1 plus the house-style sample (`eval_sets/demo/README.md`).
- `urllib3`: the installed urllib3 package's source as a knowledge base, and the eval set about
  its internals (`eval_sets/urllib3/`).

What exists already is left as it is, so running one again only adds what is missing.
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

EVAL_SETS_DIR = Path(__file__).resolve().parents[2] / "eval_sets"
DEMO_DIR = EVAL_SETS_DIR / "demo"
CODEBASE_SET = EVAL_SETS_DIR / "urllib3" / "urllib3-internals.jsonl"
CODEBASE_KB = "urllib3"
VERSIONS = ("v1", "v2")
DATASET = "ledgerly-docs-v1"
DATASET_FILES = (SAMPLE_FILE.parent / "ledgerly-docs-v1.jsonl", SAMPLE_FILE)


@dataclass
class DemoSetup:
    created: list[str] = field(default_factory=list)  # e.g. "knowledge base ledgerly-v1"
    existing: list[str] = field(default_factory=list)


def set_up_demo(db: Database, on_step: Optional[Callable[[str], None]] = None, demo: str = "ledgerly") -> DemoSetup:
    """Create whatever of `demo` is missing; `on_step(what)` is called before each creation."""
    if demo not in DEMOS:
        raise NotFoundError(f"No demo named {demo!r}: choose from {', '.join(DEMOS)}.")
    setup = DemoSetup()
    DEMOS[demo](db, setup, on_step)
    return setup


def _ledgerly(db: Database, setup: DemoSetup, on_step) -> None:
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


def _urllib3(db: Database, setup: DemoSetup, on_step) -> None:
    import urllib3

    source = Path(urllib3.__file__).parent
    _ensure(setup, f"knowledge base {CODEBASE_KB} (the installed urllib3 {urllib3.__version__}, {source})",
            lambda: get_knowledge_base(db, CODEBASE_KB),
            lambda: create_knowledge_base(db, CODEBASE_KB, KnowledgeBaseConfig(source_path=str(source))), on_step)
    _ensure(setup, f"eval set {CODEBASE_SET.stem}", lambda: get_eval_set(db, CODEBASE_SET.stem),
            lambda: import_eval_file(db, CODEBASE_SET), on_step)


DEMOS = {"ledgerly": _ledgerly, "urllib3": _urllib3}


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
