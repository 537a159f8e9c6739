"""The "index" job kind: building a knowledge base, or re-indexing one, in a worker process.

The Knowledge page registers the knowledge base (or checks it exists), queues the job and returns
at once; the worker builds with progress and cancel. Crash safety is the indexer's: a generation is
written beside the live one and becomes live only when complete, so a failed, cancelled or killed
re-index leaves the previous generation serving, and a first index that does not finish leaves
nothing behind (a killed one is built again from scratch on resume).
"""

from __future__ import annotations

from typing import Any, Iterable, Optional

from core.access import Actor, Role, require
from core.errors import InvalidInputError
from core.jobs.context import JobContext
from core.jobs.kinds import JobKind
from core.rag.config import KnowledgeBaseConfig
from core.rag.indexer import load_source
from core.rag.knowledge import build_registered, get_knowledge_base, register_knowledge_base, reindex_knowledge_base
from core.store import Database
from core.store.tables import Job, KnowledgeBase


class IndexJob(JobKind):
    name = "index"

    def validate(self, config: dict[str, Any]) -> None:
        from core.store import current_database

        get_knowledge_base(current_database(), config["name"])
        if config.get("action") not in ("create", "reindex"):
            raise InvalidInputError(f"Unknown indexing action {config.get('action')!r}: create or reindex.")

    def run(self, context: JobContext) -> dict[str, Any]:
        name = context.config["name"]
        progress = context.reporter({"name": name})
        if context.config["action"] == "create":
            row = build_registered(context.db, name, progress)
            return {"name": name, "files": row.file_count, "chunks": row.chunk_count, "seconds": row.index_seconds}
        stats = reindex_knowledge_base(context.db, name, progress)
        return {"name": name, "chunks": stats.chunk_count, "embedded_files": stats.embedded_files,
                "reused_files": stats.reused_files, "removed_files": stats.removed_files, "seconds": stats.seconds,
                "full_reembed_reason": stats.full_reembed_reason}

    def target(self, config: dict[str, Any]) -> str:
        return f"knowledge base {config['name']}"

    def resume_problem(self, job: Job) -> Optional[str]:
        from core.errors import NotFoundError
        from core.store import current_database

        try:
            get_knowledge_base(current_database(), job.config["name"])
        except NotFoundError:
            return (f"Knowledge base {job.config['name']!r} was removed when its first index stopped: "
                    "create it again.")
        return None


def submit_index(db: Database, name: str, config: KnowledgeBaseConfig,
                 uploads: Iterable[tuple[str, bytes]] = (), *, actor: Actor) -> tuple[KnowledgeBase, Job]:
    """Register a knowledge base and queue its first index; a refused job leaves no row."""
    from core.jobs.scheduler import submit
    from core.rag.knowledge import discard_knowledge_base

    require(actor, Role.ADMIN, "create a knowledge base")
    row = register_knowledge_base(db, name, config, uploads, created_by=actor.email)
    try:
        load_source(KnowledgeBaseConfig.from_dict(row.config))  # a source with nothing to read fails here, at once
        return row, submit(db, IndexJob.name, {"name": row.name, "action": "create"}, title=f"index {row.name}",
                           created_by=actor.email)
    except BaseException:
        discard_knowledge_base(db, row.name)  # registered a moment ago: undone, not removed by anyone
        raise


def submit_reindex(db: Database, name: str, *, actor: Actor) -> Job:
    """Queue a re-index; one indexing job per knowledge base at a time (the job's target)."""
    from core.jobs.scheduler import submit

    require(actor, Role.ADMIN, "re-index a knowledge base")
    row = get_knowledge_base(db, name)
    return submit(db, IndexJob.name, {"name": row.name, "action": "reindex"}, title=f"re-index {row.name}",
                  created_by=actor.email)

