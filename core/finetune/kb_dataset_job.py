"""The "kb_dataset" job kind: a model writes a fine-tuning dataset from a knowledge base's chunks, in a
worker process (a local model answering many prompts takes minutes; an API costs money per prompt).

Everything that can be checked is checked at submit: the dataset's name, the knowledge base's index,
the limits, the system's spec. Progress counts chunks; cancel stops before the next prompt (the next
batch, for a local model, which answers a batch in one computation). The dataset is saved only when
complete, so a cancelled or killed job leaves none, and resume writes it again from the first chunk.
"""

from __future__ import annotations

from typing import Any, Optional

from core.access import Actor, Role, require
from core.errors import LabError
from core.finetune import builders, from_kb
from core.finetune.datasets import check_new_name, check_validation_fraction
from core.jobs.context import JobContext
from core.jobs.kinds import JobKind
from core.jobs.scheduler import submit
from core.llm.spec import parse_spec
from core.store import Database, current_database
from core.store.tables import Job


class KbDatasetJob(JobKind):
    name = "kb_dataset"

    def validate(self, config: dict[str, Any]) -> None:
        db = current_database()
        check_new_name(db, config["name"])
        from_kb.check_request(db, config["kb"], config["limit"], config["pairs_per_chunk"])
        check_validation_fraction(config["split"]["validation_fraction"])
        parse_spec(config["system"])

    def target(self, config: dict[str, Any]) -> str:
        return f"dataset {config['name']}"

    def run(self, context: JobContext) -> dict[str, Any]:
        config = context.config
        row, built = builders.from_knowledge_base(
            context.db, config["name"], config["kb"], config["system"], config["limit"], config["pairs_per_chunk"],
            context.reporter({"dataset": config["name"]}), builders.Split(**config["split"]),
            actor=context.submitter(Role.ADMIN))
        return {"dataset": row.name, "examples": row.train_count + row.validation_count, "chunks": built.chunks,
                "bad_replies": built.bad_replies, "dropped_pairs": built.dropped_pairs,
                "cost_usd": round(built.cost_usd, 6)}

    def resume_problem(self, job: Job) -> Optional[str]:
        try:
            check_new_name(current_database(), job.config["name"])
        except LabError as exc:
            return str(exc)
        return None


def submit_kb_dataset(db: Database, name: str, kb: str, system: str, limit: int = 20, pairs_per_chunk: int = 3,
                      split: builders.Split = builders.Split(), *, actor: Actor) -> Job:
    """Queue writing the dataset `name` from `kb` by `system` (a spec); it starts at once when a slot is free.
    Admins only."""
    require(actor, Role.ADMIN, "create a dataset")
    config = {"name": name, "kb": kb, "system": system, "limit": limit, "pairs_per_chunk": pairs_per_chunk,
              "split": {"validation_fraction": split.validation_fraction, "seed": split.seed, "base": split.base}}
    return submit(db, KbDatasetJob.name, config, title=f"write dataset {name} from {kb} with {system}",
                  created_by=actor.email)
