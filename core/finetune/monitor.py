"""What the Fine-tune page shows of training jobs: curves, a run-time estimate.

Pure reads of the store; the page polls them in a fragment.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Optional

import pandas as pd

from core.finetune.config import TrainingConfig
from core.finetune.job import TrainingJob
from core.hardware import best_device, native_bfloat16
from core.jobs import queue
from core.store import Database
from core.store.tables import FineTuneDataset

# Throughput to assume before this machine has trained anything (LoRA on SmolLM2-135M,
# batch 8 x 256 tokens, measured with bench/lora_training.py on 2 CPU cores).
ASSUMED_TOKENS_PER_S = {"cpu-bf16": 450.0, "cpu": 200.0, "cuda": 8000.0}
LOAD_SECONDS = 15.0  # start the worker, import torch, load the base model
SEQUENCES_PER_EXAMPLE = {"sft": 1, "dpo": 2}  # DPO reads a pair as two sequences: prompt + chosen, prompt + rejected


@dataclass(frozen=True)
class Estimate:
    seconds: float
    steps: int
    basis: str  # where the throughput came from, said on the page


def curves(db: Database, job_ids: list[int]) -> pd.DataFrame:
    """Long-format metrics (job, step, name, value) of the given jobs."""
    rows = [{"job": m.job_id, "step": m.step, "name": m.name, "value": m.value}
            for m in queue.job_metrics(db, job_ids)]
    return pd.DataFrame(rows, columns=["job", "step", "name", "value"])


def planned_steps(config: TrainingConfig, train_count: int) -> int:
    if config.max_steps:
        return config.max_steps
    per_epoch = math.ceil(train_count / (config.batch_size * config.gradient_accumulation))
    return max(1, math.ceil(per_epoch * config.epochs))


def estimate(db: Database, config: TrainingConfig, dataset: FineTuneDataset) -> Estimate:
    """How long the run should take: its tokens over the throughput this machine
    reached on the last finished run of the same kind, or an assumed one."""
    steps = planned_steps(config, dataset.train_count)
    mean_tokens = dataset.details.get("token_lengths", {}).get("mean") or config.max_seq_length
    tokens = (steps * config.batch_size * config.gradient_accumulation * SEQUENCES_PER_EXAMPLE[config.method]
              * min(mean_tokens, config.max_seq_length))
    measured = _measured_tokens_per_s(db, config)
    if measured:
        rate, basis = measured, "measured on this machine's last similar run"
    else:
        rate, basis = ASSUMED_TOKENS_PER_S[_hardware_key(config)], "assumed (no similar run here yet)"
    evaluations = steps // config.eval_every
    eval_tokens = evaluations * dataset.validation_count * min(mean_tokens, config.max_seq_length) / 3
    return Estimate(seconds=LOAD_SECONDS + (tokens + eval_tokens) / rate, steps=steps,
                    basis=f"{rate:.0f} tokens/s, {basis}")


def _hardware_key(config: TrainingConfig) -> str:
    device = best_device() if config.device == "auto" else config.device
    if device == "cuda":
        return "cuda"
    bf16 = config.precision == "bf16" or (config.precision == "auto" and native_bfloat16("cpu"))
    return "cpu-bf16" if bf16 else "cpu"


def _measured_tokens_per_s(db: Database, config: TrainingConfig) -> Optional[float]:
    for job in queue.list_jobs(db, kind=TrainingJob.name, statuses=[queue.SUCCEEDED], limit=20):
        other = job.config.get("training", {})
        # A DPO step also runs the reference model, so its tokens/s are no guide to SFT's, nor SFT's to it.
        same = other.get("method", "sft") == config.method and all(
            other.get(key) == getattr(config, key) for key in ("base_model", "qlora", "precision", "device"))
        if same:
            rates = [m.value for m in queue.job_metrics(db, [job.id]) if m.name == "tokens_per_s"]
            if rates:
                return statistics.median(rates)
    return None
