"""The shipped demos, each set up in one step.

- `ledgerly`: Ledgerly's docs (v1 and v2) as knowledge bases, their eval sets, and the fine-tuning
  dataset built from v1 plus the house-style sample (`eval_sets/demo/README.md`).
- `urllib3` and `jinja2`: an installed package's source as a knowledge base, and the eval set
  about its internals (`eval_sets/PACKAGE/`, each question with the lines that answer it).

What exists already is left as it is, so running one again only adds what is missing.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from core.errors import NotFoundError
from core.evaluation.sets import get_eval_set, import_eval_file
from core.finetune.builders import SAMPLE_FILE, import_jsonl
from core.finetune.datasets import get_dataset
from core.project import EVAL_SETS_DIR
from core.rag.config import KnowledgeBaseConfig
from core.rag.knowledge import create_knowledge_base, get_knowledge_base
from core.store import Database

DEMO_DIR = EVAL_SETS_DIR / "demo"
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


def _codebase(package: str):
    """A demo over an installed package's source: its folder as a knowledge base named after it, and
    `eval_sets/PACKAGE/PACKAGE-internals.jsonl`."""
    def set_up(db: Database, setup: DemoSetup, on_step) -> None:
        module = importlib.import_module(package)
        source, eval_file = Path(module.__file__).parent, EVAL_SETS_DIR / package / f"{package}-internals.jsonl"
        _ensure(setup, f"knowledge base {package} (the installed {package} {module.__version__}, {source})",
                lambda: get_knowledge_base(db, package),
                lambda: create_knowledge_base(db, package, KnowledgeBaseConfig(source_path=str(source))), on_step)
        _ensure(setup, f"eval set {eval_file.stem}", lambda: get_eval_set(db, eval_file.stem),
                lambda: import_eval_file(db, eval_file), on_step)
    return set_up


DEMOS = {"ledgerly": _ledgerly, "urllib3": _codebase("urllib3"), "jinja2": _codebase("jinja2")}


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
