"""The "merge" job kind: an adapter merged into its base model's weights, in a worker process.

Merging loads the whole base model, which is too long and too big for a page's thread. Progress is
its steps (load, merge, save); cancel stops between them. The merged folder is written under a
hidden name and renamed when complete, so resume merges again from the start.
"""

from __future__ import annotations

from typing import Any

from core.access import Actor, Role, require
from core.finetune.adapters import merge_adapter
from core.jobs.context import JobContext
from core.jobs.kinds import JobKind
from core.jobs.scheduler import submit
from core.llm.adapters import get_adapter
from core.store import Database, current_database
from core.store.tables import Job


class MergeJob(JobKind):
    name = "merge"

    def validate(self, config: dict[str, Any]) -> None:
        get_adapter(current_database(), config.get("adapter", ""))

    def target(self, config: dict[str, Any]) -> str:
        return f"adapter {config['adapter']}"

    def run(self, context: JobContext) -> dict[str, Any]:
        name = context.config["adapter"]
        folder = merge_adapter(context.db, name, context.reporter({"adapter": name}))
        return {"adapter": name, "merged_path": str(folder)}


def submit_merge(db: Database, adapter: str, *, actor: Actor) -> Job:
    """Queue merging `adapter` into its base model (it starts at once when a slot is free); admins only."""
    require(actor, Role.ADMIN, "merge an adapter")
    return submit(db, MergeJob.name, {"adapter": adapter}, title=f"merge {adapter} into its base model",
                  created_by=actor.email)
