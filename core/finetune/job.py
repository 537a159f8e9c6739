"""The "train" job kind: what the worker runs for a training job.

Checks happen at submit, before anything is queued (a dataset that does not
exist, a base model that is not there, a taken adapter name, an output folder
that cannot be written); the run itself lives in `core.finetune.trainer`.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

from core.access import Actor, Role, require
from core.errors import InvalidInputError, NotFoundError
from core.finetune.adapters import save_adapter, validate_adapter_name
from core.finetune.config import TrainingConfig
from core.jobs import queue
from core.jobs.context import JobContext
from core.jobs.kinds import JobCancelled, JobKind
from core.jobs.processes import job_dir
from core.jobs.scheduler import submit
from core.llm.adapters import adapters_dir
from core.llm.defaults import DEFAULT_MODEL, SMOLLM2_NAME
from core.llm.sources import resolve_source, smollm2_cache_dir, smollm2_gguf
from core.llm.pricing import hourly_cost
from core.serving.routing import release_local_models
from core.store import Database, current_database
from core.store.tables import FineTuneDataset, Job


def checkpoint_dir(job_id: int) -> Path:
    return job_dir(job_id) / "checkpoints"


def submit_training(db: Database, training: TrainingConfig, actor: Actor,
                    sweep: Optional[dict[str, Any]] = None) -> Job:
    """Queue a training job (it starts at once when a slot is free); admins only. A member of a sweep
    (`core.finetune.sweep`) carries the sweep's record, which may ask for an eval run once it has trained."""
    require(actor, Role.ADMIN, "train an adapter")
    in_sweep = f" in sweep {sweep['name']}" if sweep else ""
    return submit(db, TrainingJob.name, {"training": training.to_dict(), **({"sweep": sweep} if sweep else {})},
                  title=f"train {training.adapter_name} on {training.dataset} ({training.base_model}"
                        f"{', QLoRA' if training.qlora else ''}{', DPO' if training.method == 'dpo' else ''})"
                        f"{in_sweep}", created_by=actor.email)


def torch_cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


class TrainingJob(JobKind):
    name = "train"

    def validate(self, config: dict[str, Any]) -> None:
        from core.finetune.datasets import get_dataset

        training = TrainingConfig.from_dict(config.get("training", {}))
        db = current_database()
        check_method_fits(training, get_dataset(db, training.dataset))
        validate_adapter_name(db, training.adapter_name)
        for job in queue.list_jobs(db, kind=TrainingJob.name, statuses=queue.ACTIVE + queue.RESUMABLE):
            if job.config.get("training", {}).get("adapter_name") == training.adapter_name:
                raise InvalidInputError(f"Job {job.id} ({job.status}) already trains an adapter named "
                                        f"{training.adapter_name!r}: pick another name.")
        check_base_model(training.base_model)
        check_writable(adapters_dir())

    def target(self, config: dict[str, Any]) -> str:
        return f"adapter {config['training']['adapter_name']}"

    def run(self, context: JobContext) -> dict[str, Any]:
        from core.finetune.datasets import get_dataset, read_split
        from core.finetune.sweep import evaluate_member
        from core.finetune.trainer import train

        attempt_started = time.monotonic()
        training = TrainingConfig.from_dict(context.config["training"])
        if training.device != "cpu" and torch_cuda_available():
            # when it starts, not when it was queued: the model server may have loaded models since
            release_local_models()
        dataset = get_dataset(context.db, training.dataset)
        model, outcome = train(
            training, read_split(dataset, "train"), read_split(dataset, "validation"), checkpoint_dir(context.job.id),
            context.metrics, context.progress, context.cancel_requested, resume=context.resuming)
        if outcome.truncated_examples:
            what = "pair(s) had an answer" if training.method == "dpo" else "example(s) were"
            context.log(f"{outcome.truncated_examples} {what} longer than max_seq_length={training.max_seq_length} "
                        "tokens: their answers were cut to fit.")
        seconds = context.job.result.get("train_seconds", 0.0) + time.monotonic() - attempt_started
        if outcome.stopped_early:
            raise JobCancelled({"train_seconds": seconds, "steps": outcome.steps})
        if not context.is_main:
            return {}
        adapter = save_adapter(context.db, model, training.adapter_name, {
            "base_model": training.base_model, "dataset": training.dataset, "job_id": context.job.id,
            "config": training.to_dict(), "final_validation_loss": outcome.final_validation_loss,
            "train_seconds": seconds, "cost_usd": hourly_cost(seconds), "created_by": context.job.created_by})
        context.log(f"adapter {adapter.name} saved to {adapter.path} ({adapter.size_bytes / 1e6:.1f} MB)")
        evaluated = evaluate_member(context.db, context.job, context.submitter(Role.ADMIN))
        if evaluated:
            context.log(f"eval run {evaluated['eval_run_id']} queued" if "eval_run_id" in evaluated
                        else evaluated["eval_error"])
        return {"adapter": adapter.name, "train_seconds": seconds, "steps": outcome.steps,
                "final_validation_loss": outcome.final_validation_loss, "tokens_seen": outcome.tokens_seen,
                "truncated_examples": outcome.truncated_examples, **evaluated}

    def resume_problem(self, job: Job) -> Optional[str]:
        from core.finetune.trainer import last_checkpoint

        if last_checkpoint(checkpoint_dir(job.id)) is None:
            every = job.config.get("training", {}).get("checkpoint_every", "?")
            return (f"it stopped before its first checkpoint (one is saved every {every} steps), so there is "
                    "nothing to resume from: start a new training job instead.")
        return None

    def gpus(self, job: Job) -> int:
        import torch

        device = job.config.get("training", {}).get("device", "auto")
        return torch.cuda.device_count() if device in ("auto", "cuda") else 0


def check_method_fits(training: TrainingConfig, dataset: FineTuneDataset) -> None:
    """DPO learns from preference pairs and SFT from chats: a dataset of the other kind is refused."""
    from core.finetune.datasets import PREFERENCES

    if training.method == "dpo" and dataset.source != PREFERENCES:
        raise InvalidInputError(
            f"DPO learns from preference pairs, and dataset {dataset.name!r} holds chat examples (from "
            f"{dataset.source}): build pairs from labelled answers (`python -m core dataset preferences NAME`), "
            "or train on it with --method sft.")
    if training.method == "sft" and dataset.source == PREFERENCES:
        raise InvalidInputError(
            f"Dataset {dataset.name!r} holds preference pairs (a chosen and a rejected answer to each question), "
            "which SFT does not learn from: train on it with --method dpo.")


def check_base_model(source: str) -> None:
    """A base model that is not on this machine is refused before a job is queued."""
    if source.lower() in (DEFAULT_MODEL, SMOLLM2_NAME.lower()):
        if not (smollm2_cache_dir() / "config.json").is_file():
            smollm2_gguf()  # raises with how to install it
        return
    folder, _ = resolve_source(source)
    if not Path(folder).is_dir():
        from huggingface_hub import try_to_load_from_cache

        if not isinstance(try_to_load_from_cache(folder, "config.json"), str):
            raise NotFoundError(f"Base model {source!r} is neither a local folder nor in the Hugging Face cache: "
                                "nothing is downloaded at run time; give a model folder's path.")


def check_writable(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise InvalidInputError(f"Cannot write to {folder} ({exc.strerror}): make it writable, or point "
                                "RAGTUNE_MODELS_DIR at a folder you can write.") from exc
    if not os.access(folder, os.W_OK):
        raise InvalidInputError(f"Cannot write to {folder}: make it writable, or point RAGTUNE_MODELS_DIR elsewhere.")
