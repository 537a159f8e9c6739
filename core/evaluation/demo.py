"""The shipped demos: each described once here (the Evaluate page and `python -m core demo --help` read
`DEMOS`), and set up as a list of steps.

- `ledgerly`: Ledgerly's docs (v1 and v2) as knowledge bases, their eval sets, the fine-tuning
  dataset built from v1 plus the house-style sample (`eval_sets/demo/README.md`), 40 of its
  questions as trained and reworded, to measure an adapter's brittleness on paraphrases, and the
  general-knowledge set, which shows whether an adapter made the base model forget what it knew
  (`eval_sets/general/README.md`).
- `urllib3` and `jinja2`: an installed package's source as a knowledge base, and the eval set
  about its internals (`eval_sets/PACKAGE/`, each question with the lines that answer it).

A step that is done already is skipped, so setting a demo up again (or resuming its job) only adds
what is missing. The stores are imported inside the steps: `--help` reads this table without them.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from core.access import Actor
from core.errors import InvalidInputError, NotFoundError
from core.paths import operator_paths
from core.project import EVAL_SETS_DIR
from core.store import Database

DEMO_DIR = EVAL_SETS_DIR / "demo"
VERSIONS = ("v1", "v2")
DATASET = "ledgerly-docs-v1"
GENERAL_FILE = EVAL_SETS_DIR / "general" / "general-knowledge.jsonl"
DEFAULT_DEMO = "ledgerly"
Progress = Callable[[str, float], None]  # (what is being done, fraction done), as the indexer reports


@dataclass(frozen=True)
class Step:
    what: str  # e.g. "knowledge base ledgerly-v1"
    done: Callable[[Database], bool]
    make: Callable[[Database, Progress, Actor], Any]  # the actor: whom the rows it makes are by


@dataclass(frozen=True)
class Demo:
    name: str
    title: str
    description: str
    steps: Callable[[], list[Step]]  # how it is set up, in order


@dataclass
class DemoSetup:
    created: list[str] = field(default_factory=list)  # e.g. "knowledge base ledgerly-v1"
    existing: list[str] = field(default_factory=list)


def get_demo(name: str) -> Demo:
    if name not in DEMOS:
        raise InvalidInputError(f"No demo named {name!r}: choose from {', '.join(DEMOS)}.")
    return DEMOS[name]


@operator_paths()  # its folders and files are named by the code, not typed: any may be read
def set_up_demo(db: Database, name: str = DEFAULT_DEMO, progress: Optional[Progress] = None, *,
                actor: Actor) -> DemoSetup:
    """Make whatever of the demo is missing, as `actor`. `progress` hears of each step before it starts (and
    of indexing within it); raising there stops between steps, leaving each step whole or absent."""
    report = progress or (lambda _what, _fraction: None)
    steps = get_demo(name).steps()
    setup = DemoSetup()
    for number, step in enumerate(steps):
        report(step.what, number / len(steps))
        if step.done(db):
            setup.existing.append(step.what)
            continue
        step.make(db, lambda stage, fraction: report(f"{step.what}: {stage}", (number + fraction) / len(steps)),
                  actor)
        setup.created.append(step.what)
    report("Done", 1.0)
    return setup


def _ledgerly() -> list[Step]:
    from core.finetune.builders import SAMPLE_FILE

    steps = []
    for version in VERSIONS:
        name = f"ledgerly-{version}"
        steps += [_knowledge_base(name, DEMO_DIR / "docs" / version), _eval_set(DEMO_DIR / f"{name}.jsonl")]
    steps.append(_dataset(DATASET, (SAMPLE_FILE.parent / "ledgerly-docs-v1.jsonl", SAMPLE_FILE)))
    steps += [_eval_set(DEMO_DIR / f"ledgerly-{phrasing}.jsonl") for phrasing in ("training", "paraphrased")]
    return steps + [_eval_set(GENERAL_FILE)]


def _codebase(package: str) -> Callable[[], list[Step]]:
    """A demo over an installed package's source: its folder as a knowledge base named after it, and
    `eval_sets/PACKAGE/PACKAGE-internals.jsonl`."""
    def steps() -> list[Step]:
        module = importlib.import_module(package)
        source = Path(module.__file__).parent
        return [_knowledge_base(package, source, f"the installed {package} {module.__version__}, {source}"),
                _eval_set(EVAL_SETS_DIR / package / f"{package}-internals.jsonl")]
    return steps


def _knowledge_base(name: str, folder: Path, detail: str = "") -> Step:
    return Step(f"knowledge base {name}" + (f" ({detail})" if detail else ""), lambda db: _indexed(db, name),
                lambda db, progress, actor: _index(db, name, folder, progress, actor))


def _eval_set(file: Path) -> Step:
    from core.evaluation.sets import get_eval_set, import_eval_file

    return Step(f"eval set {file.stem}", lambda db: _exists(get_eval_set, db, file.stem),
                lambda db, _progress, actor: import_eval_file(db, file, actor=actor))


def _dataset(name: str, files: tuple[Path, ...]) -> Step:
    from core.finetune.builders import import_jsonl
    from core.finetune.datasets import get_dataset

    return Step(f"dataset {name}", lambda db: _exists(get_dataset, db, name),
                lambda db, _progress, actor: import_jsonl(db, name, b"\n".join(path.read_bytes() for path in files),
                                                          " + ".join(path.name for path in files), actor=actor))


def _indexed(db: Database, name: str) -> bool:
    from core.rag.knowledge import get_knowledge_base

    try:
        return get_knowledge_base(db, name).generation > 0
    except NotFoundError:
        return False


def _index(db: Database, name: str, folder: Path, progress: Progress, actor: Actor) -> None:
    """Index a new knowledge base, or the one a killed attempt registered and left without an index."""
    from core.rag.config import KnowledgeBaseConfig
    from core.rag.knowledge import build_registered, create_knowledge_base, get_knowledge_base

    try:
        get_knowledge_base(db, name)
    except NotFoundError:
        create_knowledge_base(db, name, KnowledgeBaseConfig(source_path=str(folder)), progress=progress,
                              created_by=actor.email)
        return
    build_registered(db, name, progress)


def _exists(find: Callable[[Database, str], Any], db: Database, name: str) -> bool:
    try:
        find(db, name)
        return True
    except NotFoundError:
        return False


DEMOS = {demo.name: demo for demo in (
    Demo("ledgerly", "Ledgerly's docs v1 and v2",
         "Two knowledge bases (`ledgerly-v1`, `ledgerly-v2`), their eval sets, the fine-tuning dataset "
         "`ledgerly-docs-v1` (v1's facts plus the house-style sample), `ledgerly-training` / "
         "`ledgerly-paraphrased` (40 of its questions as trained and reworded), and `general-knowledge`: 131 "
         "short questions to ask a base model and its adapter: a drop between them is forgetting.", _ledgerly),
    Demo("urllib3", "A real codebase: urllib3",
         "The installed urllib3 package's source as the knowledge base `urllib3`, and `urllib3-internals`: 30 "
         "questions about its internals, each with the lines that answer it.", _codebase("urllib3")),
    Demo("jinja2", "A real codebase: Jinja2",
         "The installed Jinja2 package's source as the knowledge base `jinja2`, and `jinja2-internals`: 42 "
         "held-out questions (exceptions, defaults, decisions, two-file answers), each with its answering line "
         "range, for evidence-level retrieval metrics.", _codebase("jinja2")),
)}
