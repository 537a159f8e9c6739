"""The "demo" job kind: setting up a shipped demo (mostly indexing) in a worker process.

Progress is the demo's steps (and indexing within a knowledge base's step); cancel stops at the next
report, and a knowledge base cut off while indexing is removed whole. Resume runs the set-up again:
its steps are idempotent, so what was made is kept and only what is missing is made.
"""

from __future__ import annotations

from typing import Any

from core.access import Actor, Role, require
from core.evaluation.demo import get_demo, set_up_demo
from core.jobs.context import JobContext
from core.jobs.kinds import JobKind
from core.jobs.scheduler import submit
from core.store import Database
from core.store.tables import Job


class DemoJob(JobKind):
    name = "demo"

    def validate(self, config: dict[str, Any]) -> None:
        get_demo(config.get("demo", ""))

    def target(self, config: dict[str, Any]) -> str:
        return f"demo {config['demo']}"

    def run(self, context: JobContext) -> dict[str, Any]:
        name = context.config["demo"]
        setup = set_up_demo(context.db, name, context.reporter({"demo": name}), actor=context.submitter(Role.ADMIN))
        return {"demo": name, "created": setup.created, "existing": setup.existing}


def submit_demo(db: Database, name: str, actor: Actor) -> Job:
    """Queue setting up the demo `name` (it starts at once when a slot is free): its knowledge bases,
    eval sets and dataset are created for everyone, so admins only."""
    require(actor, Role.ADMIN, "set up a demo")
    return submit(db, DemoJob.name, {"demo": name}, title=f"set up the {name} demo", created_by=actor.email)
