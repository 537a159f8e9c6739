"""Job kinds: what a worker runs for a row, looked up by the row's `kind`.

A kind is a small class; the registry names it by import path so that reading
jobs (the page, the CLI) never imports torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Optional

from core.errors import InvalidInputError
from core.store.tables import Job

if TYPE_CHECKING:
    from core.jobs.context import JobContext

KINDS = {  # each key is its class's `name` (a test checks)
    "train": "core.finetune.job:TrainingJob",
    "eval": "core.evaluation.job:EvalJob",
    "index": "core.rag.index_job:IndexJob",
    "demo": "core.evaluation.demo_job:DemoJob",
    "merge": "core.finetune.merge_job:MergeJob",
    "kb_dataset": "core.finetune.kb_dataset_job:KbDatasetJob",
}


class JobKind:
    """What a kind of job must say: its name (its key in `KINDS`, kept on its rows),
    how to check its config, run it, resume it."""

    name: str = ""

    def validate(self, config: dict[str, Any]) -> None:
        """Raise `InvalidInputError` for a config that would fail: before anything is queued."""

    def run(self, context: "JobContext") -> dict[str, Any]:
        """Do the work in the worker process; returns the job's result.
        Raises `JobCancelled` when it stopped because a cancel was asked for."""
        raise NotImplementedError

    def target(self, config: dict[str, Any]) -> Optional[str]:
        """What a job of this kind writes (e.g. "knowledge base docs"): while one job of the kind is queued
        or running on a target, another on the same target is refused. None: any number at once."""
        return None

    def resume_problem(self, job: Job) -> Optional[str]:
        """Why `job` cannot be resumed (e.g. no checkpoint), or None when it can."""
        return None

    def gpus(self, job: Job) -> int:
        """How many GPUs the worker uses: 0 on the CPU; more than one launches it under accelerate."""
        return 0


class JobCancelled(Exception):
    """Raised by a kind's `run` when it stopped early because cancel was asked for;
    `result` is what it had produced by then (kept on the row)."""

    def __init__(self, result: Optional[dict[str, Any]] = None):
        super().__init__("cancelled")
        self.result = result or {}


def kind_for(name: str) -> JobKind:
    if name not in KINDS:
        raise InvalidInputError(f"Unknown job kind {name!r}: known kinds are {', '.join(sorted(KINDS))}.")
    module, _, cls = KINDS[name].partition(":")
    return getattr(importlib.import_module(module), cls)()
