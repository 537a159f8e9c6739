"""Building a dataset from each kind of source, as the CLI and the page both do it:
check the actor's role and the name first (before a long build), build the examples, record how.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

from core.access import Actor
from core.finetune import from_kb, git_history
from core.finetune.datasets import DEFAULT_VALIDATION_FRACTION, check_may_create, create_dataset
from core.finetune.formats import read_dataset
from core.llm.base import Backend
from core.llm.defaults import DEFAULT_MODEL
from core.llm.spec import SystemSpec, parse_spec
from core.paths import operator_paths, readable_path
from core.rag.indexer import Progress
from core.store import Database
from core.store.tables import FineTuneDataset
from core.systems import build_system

SAMPLE_FILE = Path(__file__).resolve().parent / "samples" / "house-style.jsonl"
SAMPLE_NAME = "house-style"


class Split:
    """How examples are split and measured; the same knobs for every source."""

    def __init__(self, validation_fraction: float = DEFAULT_VALIDATION_FRACTION, seed: int = 0,
                 base: str = DEFAULT_MODEL):
        self.validation_fraction, self.seed, self.base = validation_fraction, seed, base

    def save(self, db: Database, name: str, examples: list[dict], source: str, source_format: str,
             details: dict, actor: Actor) -> FineTuneDataset:
        return create_dataset(db, name, examples, source, source_format, details,
                              validation_fraction=self.validation_fraction, seed=self.seed, base=self.base,
                              actor=actor)


def import_jsonl(db: Database, name: str, source: Path | bytes, file_name: str = "",
                 split: Split = Split(), *, actor: Actor) -> FineTuneDataset:
    """A JSONL file (a path that may be read, or the bytes of an upload) in any of the formats `formats` reads."""
    check_may_create(db, name, actor)
    source = readable_path(source) if isinstance(source, Path) else source
    label = file_name or (source.name if isinstance(source, Path) else "upload")
    file_format, examples = read_dataset(source, label)
    return split.save(db, name, examples, "import", file_format, {"file": label}, actor)


def import_sample(db: Database, name: str = SAMPLE_NAME, split: Split = Split(), *, actor: Actor) -> FineTuneDataset:
    """The shipped sample that teaches a house answer format (see `samples/README.md`)."""
    with operator_paths():  # the code names it
        return import_jsonl(db, name, SAMPLE_FILE, split=split, actor=actor)


def from_git(db: Database, name: str, repo: str, rev: str = "HEAD",
             max_diff_chars: int = git_history.DEFAULT_MAX_DIFF_CHARS,
             max_commits: int = git_history.DEFAULT_MAX_COMMITS,
             split: Split = Split(), *, actor: Actor) -> tuple[FineTuneDataset, dict[str, int]]:
    """Commits with meaningful messages as (message → diff) examples; returns the skips too."""
    check_may_create(db, name, actor)
    built = git_history.examples_from_git(repo, rev, max_diff_chars, max_commits)
    row = split.save(db, name, built.examples, "git", git_history.EXAMPLE_FORMAT,
                     {"repo": built.repo, "rev": built.rev, "commit": built.commit,
                      "max_diff_chars": max_diff_chars, "skipped": built.skipped}, actor)
    return row, built.skipped


def from_knowledge_base(db: Database, name: str, kb: str, system: str, limit: int = 20, pairs_per_chunk: int = 3,
                        progress: Optional[Progress] = None, split: Split = Split(),
                        backend_for: Callable[[SystemSpec], Backend] = build_system, *,
                        actor: Actor) -> tuple[FineTuneDataset, from_kb.KbExamples]:
    """Question/answer pairs that `system` (a spec) writes about a knowledge base's chunks."""
    check_may_create(db, name, actor)
    from_kb.check_request(db, kb, limit, pairs_per_chunk)  # before loading a model or paying for an API
    if progress:
        progress(f"Loading {system}", 0.0)
    backend = backend_for(parse_spec(system))
    built = from_kb.examples_from_kb(db, kb, backend, limit, pairs_per_chunk, progress)
    row = split.save(db, name, built.examples, "kb", from_kb.EXAMPLE_FORMAT,
                     {"kb": built.kb, "system": system, "model": built.model, "chunks": built.chunks,
                      "pairs_per_chunk": pairs_per_chunk, "bad_replies": built.bad_replies,
                      "dropped_pairs": built.dropped_pairs, "cost_usd": round(built.cost_usd, 6)}, actor)
    return row, built
