"""The fixes the lab can carry out itself, one click on the Diagnose page or one CLI command each: a
finding's `Action` names one of `ACTIONS` and its parameters. Each queues jobs as the acting user (whose
role core checks) and says what it did."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable

from core.access import Actor, Role
from core.diagnosis.modes.retrieval_recall import ADVISED_SUFFIX
from core.errors import InvalidInputError
from core.evaluation.catalog import JUDGE_CORRECTNESS
from core.evaluation.runs import RunOptions, get_run, submit_eval
from core.finetune.config import TrainingConfig
from core.finetune.job import submit_training
from core.llm.adapters import find_adapter, get_adapter
from core.llm.spec import parse_spec
from core.rag.config import KnowledgeBaseConfig
from core.rag.index_job import submit_index
from core.rag.knowledge import get_knowledge_base
from core.store import Database

EMBEDDER_WINDOW_CHARS = 1000  # ~256 tokens, all-MiniLM-L6-v2's window: longer chunks are cut before embedding


@dataclass(frozen=True)
class ActionDone:
    message: str
    job_ids: tuple[int, ...] = ()


def advised_config(config: KnowledgeBaseConfig) -> tuple[KnowledgeBaseConfig, list[str]]:
    """The seed's fix for low recall applied to a knowledge base's settings, with a reason per change."""
    changes, reasons = {}, []
    if config.chunker in ("fixed", "semantic"):
        changes["chunker"] = "code"
        reasons.append(f"chunker {config.chunker} -> code (structure-aware for code and markdown, recursive for prose)")
    if config.chunk_size > EMBEDDER_WINDOW_CHARS:
        changes["chunk_size"] = EMBEDDER_WINDOW_CHARS
        reasons.append(f"chunk size {config.chunk_size} -> {EMBEDDER_WINDOW_CHARS} characters (about 256 tokens, "
                       "what the embedder reads of a chunk)")
    if config.neighbours == 0:
        changes["neighbours"] = 1
        reasons.append("neighbours 0 -> 1 (each hit comes with the chunks around it)")
    if not config.contextual_headers:
        changes["contextual_headers"] = True
        reasons.append("contextual headers on (each code chunk names its class and function)")
    if not config.reranker_model:
        reasons.append("a re-ranker (Knowledge page: a local cross-encoder folder) is the seed's next step; "
                       "it is not switched on here, as it slows every question on a CPU")
    return replace(config, **changes), reasons


def reindex_advised(db: Database, params: dict[str, Any], actor: Actor) -> ActionDone:
    """A new knowledge base NAME-advised with the advised settings, beside the old one so both can be compared."""
    source = get_knowledge_base(db, params["knowledge_base"])
    config, reasons = advised_config(KnowledgeBaseConfig.from_dict(source.config))
    if config == KnowledgeBaseConfig.from_dict(source.config):
        raise InvalidInputError(f"{source.name} already has the advised settings; {' '.join(reasons)}")
    row, job = submit_index(db, source.name + ADVISED_SUFFIX, config, actor=actor)
    rerun = with_knowledge_base(params["system"], row.name)
    return ActionDone(f"Indexing {row.name} as job {job.id}: {'; '.join(reasons)}. When it is ready, ask the "
                      f"same questions with it (`python -m core eval run --set {get_run(db, params['run_id']).eval_set}"
                      f" --system '{rerun}'`) and compare the run with run {params['run_id']} on History.", (job.id,))


def rerun_with(db: Database, params: dict[str, Any], actor: Actor) -> ActionDone:
    """The same eval set and metrics again, with the systems the finding names."""
    run = get_run(db, params["run_id"])
    options = RunOptions(**{k: v for k, v in run.options.items() if k in RunOptions.__dataclass_fields__})
    metrics = [metric for metric in run.metrics if metric != JUDGE_CORRECTNESS]  # comes with the judge
    rerun = submit_eval(db, run.eval_set, params["systems"], metrics, options, judge=run.judge,
                        decision_session_id=run.decision_session_id, actor=actor)
    return ActionDone(f"Run {rerun.id} asks {', '.join(params['systems'])} the questions of {run.eval_set} "
                      f"(job {rerun.job_id}); compare it with run {run.id} on History.", (rerun.job_id,))


def retrain_adapter(db: Database, params: dict[str, Any], actor: Actor) -> ActionDone:
    """The adapter's training again as a new adapter, with the settings the finding advises (a lower rank, a
    lower learning rate, ...); the old adapter stays, so both can be asked the same questions."""
    adapter = get_adapter(db, params["adapter"])
    changes = {key: value for key, value in params.items() if key != "adapter"}
    name = _free_adapter_name(db, adapter.name)
    training = TrainingConfig.from_dict({**adapter.config, **changes, "adapter_name": name})
    job = submit_training(db, training, actor)
    changed = ", ".join(f"{key} {adapter.config.get(key, '-')} -> {value}" for key, value in sorted(changes.items()))
    return ActionDone(f"Training {training.adapter_name} as job {job.id} ({changed}); then ask it the questions "
                      f"{adapter.name} was asked and compare the runs on History.", (job.id,))


def _free_adapter_name(db: Database, name: str) -> str:
    candidates = (f"{name}{ADVISED_SUFFIX}" + (f"-{n}" if n > 1 else "") for n in range(1, 100))
    return next(candidate for candidate in candidates if find_adapter(db, candidate) is None)


def with_knowledge_base(system: str, knowledge_base: str) -> str:
    spec = parse_spec(system)
    return replace(spec, kb=knowledge_base).text if spec.kb else system


@dataclass(frozen=True)
class ActionKind:
    carry_out: Callable[[Database, dict[str, Any], Actor], ActionDone]
    role: Role  # core checks it again; the page disables the button for a user without it
    doing: str  # "Creating a knowledge base", for the message that names the role


ACTIONS: dict[str, ActionKind] = {
    "reindex_advised": ActionKind(reindex_advised, Role.ADMIN, "Creating a knowledge base"),
    "rerun_with": ActionKind(rerun_with, Role.REVIEWER, "Starting an eval run"),
    "retrain_adapter": ActionKind(retrain_adapter, Role.ADMIN, "Training an adapter"),
}


def carry_out(db: Database, kind: str, params: dict[str, Any], actor: Actor) -> ActionDone:
    if kind not in ACTIONS:
        raise InvalidInputError(f"No diagnosis action {kind!r}: choose from {', '.join(ACTIONS)}.")
    return ACTIONS[kind].carry_out(db, params, actor)
