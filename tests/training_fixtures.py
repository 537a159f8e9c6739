"""A small dataset and training configs on the tiny model, for tests that run real
workers (registered as a plugin by the root conftest, like the tiny model)."""

from __future__ import annotations

import time

import pytest

from core.access import LOCAL_ADMIN
from core.finetune.config import TrainingConfig
from core.finetune.datasets import create_dataset
from core.jobs import queue, scheduler

ANSWERS = ["TL;DR: yes.\n- it works\n— Acme", "TL;DR: no.\n- it does not\n— Acme"]


@pytest.fixture
def dataset(db, tiny_model_dir):
    examples = [{"messages": [{"role": "user", "content": f"Question number {i}?"},
                              {"role": "assistant", "content": ANSWERS[i % 2]}]} for i in range(24)]
    return create_dataset(db, "tiny-style", examples, "import", "messages", base=str(tiny_model_dir), questions=[],
                          actor=LOCAL_ADMIN)


@pytest.fixture
def training(dataset, tiny_model_dir):
    def make(name: str = "tiny-adapter", **overrides) -> TrainingConfig:
        settings = dict(dataset=dataset.name, adapter_name=name, base_model=str(tiny_model_dir), lora_r=4,
                        lora_alpha=8, max_steps=6, batch_size=4, max_seq_length=64, eval_every=2,
                        checkpoint_every=2, learning_rate=1e-3, precision="fp32", device="cpu")
        return TrainingConfig(**{**settings, **overrides})
    return make


@pytest.fixture
def adapter(db, tiny_model_dir) -> str:
    """A LoRA adapter on the tiny model, saved and registered as a training job would (without the training)."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from core.finetune.adapters import save_adapter

    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir),
                           LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    save_adapter(db, model, "tiny-lora", {"base_model": str(tiny_model_dir), "dataset": "tiny-style"})
    return "tiny-lora"


def wait_until(db, job_id: int, statuses, timeout: float = 180.0):
    """Poll as the page does (each read reconciles and fills slots) until the job reaches one of `statuses`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        scheduler.refresh(db)
        job = queue.get_job(db, job_id)
        if job.status in statuses:
            return job
        time.sleep(0.3)
    from core.jobs.runners import log_tail

    raise AssertionError(f"job {job_id} is still {job.status} ({job.error}) after {timeout} s; log:\n"
                         f"{(log_tail(job) or '')[-3000:]}")


def wait_for(condition, what: str, timeout: float = 120.0, every: float = 0.05) -> None:
    """Poll `condition()` until it is true; fail saying `what` was awaited once `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout} s for {what}")
        time.sleep(every)


def metric_steps(db, job_id: int, name: str) -> list[int]:
    return [m.step for m in queue.job_metrics(db, [job_id]) if m.name == name]


def wait_for_metric_step(db, job_id: int, step: int, timeout: float = 120.0) -> None:
    wait_for(lambda: any(s >= step for s in metric_steps(db, job_id, "train_loss")),
             f"job {job_id} to reach step {step}: {queue.get_job(db, job_id)}", timeout, every=0.1)


def wait_for_progress(db, job_id: int, text: str, timeout: float = 120.0):
    """The job once its progress text starts with `text` (its kind is running: a cancel now is the kind's)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = queue.get_job(db, job_id)
        if (job.progress_text or "").startswith(text) or job.status not in queue.ACTIVE:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never reported {text!r}: {queue.get_job(db, job_id)}")


def cancelled_with_a_checkpoint(db, config: TrainingConfig):
    """A training job cancelled a few steps in, checked to have stopped early with its one checkpoint where it
    stopped (not at the next `checkpoint_every`); returns the job and that step."""
    from pathlib import Path

    from core.finetune.job import submit_training

    job = submit_training(db, config, LOCAL_ADMIN)
    wait_for_metric_step(db, job.id, 3)
    scheduler.cancel(db, job.id)
    job = wait_until(db, job.id, [queue.CANCELLED, queue.SUCCEEDED, queue.FAILED])
    assert job.status == queue.CANCELLED, job.error
    stopped_at = max(metric_steps(db, job.id, "train_loss"))
    assert stopped_at < config.max_steps
    checkpoints = list((Path(job.log_path).parent / "checkpoints").glob("checkpoint-*"))
    assert [c.name for c in checkpoints] == [f"checkpoint-{stopped_at}"]
    return job, stopped_at
