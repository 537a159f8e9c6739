"""A small dataset and training configs on the tiny model, for tests that run real
workers (registered as a plugin by the root conftest, like the tiny model)."""

from __future__ import annotations

import time

import pytest

from core.finetune.config import TrainingConfig
from core.finetune.datasets import create_dataset
from core.jobs import queue, scheduler

ANSWERS = ["TL;DR: yes.\n- it works\n— Acme", "TL;DR: no.\n- it does not\n— Acme"]


@pytest.fixture
def dataset(db, tiny_model_dir):
    examples = [{"messages": [{"role": "user", "content": f"Question number {i}?"},
                              {"role": "assistant", "content": ANSWERS[i % 2]}]} for i in range(24)]
    return create_dataset(db, "tiny-style", examples, "import", "messages", base=str(tiny_model_dir), questions=[])


@pytest.fixture
def training(dataset, tiny_model_dir):
    def make(name: str = "tiny-adapter", **overrides) -> TrainingConfig:
        settings = dict(dataset=dataset.name, adapter_name=name, base_model=str(tiny_model_dir), lora_r=4,
                        lora_alpha=8, max_steps=6, batch_size=4, max_seq_length=64, eval_every=2,
                        checkpoint_every=2, learning_rate=1e-3, precision="fp32", device="cpu")
        return TrainingConfig(**{**settings, **overrides})
    return make


def wait_until(db, job_id: int, statuses, timeout: float = 180.0):
    """Poll as the page does (each read reconciles and fills slots) until the job reaches one of `statuses`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        scheduler.refresh(db)
        job = queue.get_job(db, job_id)
        if job.status in statuses:
            return job
        time.sleep(0.3)
    log = open(job.log_path).read() if job.log_path else ""
    raise AssertionError(f"job {job_id} is still {job.status} after {timeout} s; log:\n{log[-3000:]}")
