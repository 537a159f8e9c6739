"""Real worker subprocesses training the tiny model: the job machinery end to end."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from core.access import LOCAL_ADMIN, Actor, Role
from core.errors import AccessDeniedError
from core.llm.adapters import get_adapter
from core.finetune.job import submit_training
from core.jobs import queue, scheduler
from core.llm.base import GenerationOptions, Prompt
from core.llm.local import LocalBackend
from tests.training_fixtures import cancelled_with_a_checkpoint, metric_steps, wait_for_metric_step, wait_until


@pytest.mark.sqlite_only
def test_qlora_trains_a_few_steps_on_the_cpu(db, training):
    """QLoRA's path (4-bit NF4 weights from bitsandbytes, k-bit preparation, LoRA on top) on the tiny model:
    the same code as on SmolLM2, whose 4-bit steps cost minutes on a CPU."""
    job = submit_training(db, training(qlora=True, max_steps=2, batch_size=2), LOCAL_ADMIN)
    job = wait_until(db, job.id, [queue.SUCCEEDED, queue.FAILED])
    assert job.status == queue.SUCCEEDED, job.error
    assert job.config["training"]["qlora"] is True
    losses = [m.value for m in queue.job_metrics(db, [job.id]) if m.name == "train_loss"]
    assert len(losses) == 2 and all(loss > 0 for loss in losses)
    assert json.loads((Path(get_adapter(db, "tiny-adapter").path) / "training_config.json").read_text()
                      )["config"]["qlora"] is True


def test_only_an_admin_may_train(db, training):
    with pytest.raises(AccessDeniedError, match="To train an adapter you need the admin role; vi@example.com is a "
                                                "reviewer"):
        submit_training(db, training(), Actor("vi@example.com", Role.REVIEWER))
    assert queue.list_jobs(db) == []


def test_a_short_run_trains_registers_an_adapter_and_records_its_curves(db, training, tiny_model_dir):
    job = submit_training(db, training(), LOCAL_ADMIN)
    assert job.status == queue.RUNNING and job.pid and job.command[-1] == str(job.id) and job.created_by == "local"
    job = wait_until(db, job.id, [queue.SUCCEEDED, queue.FAILED])
    assert job.status == queue.SUCCEEDED, job.error
    assert metric_steps(db, job.id, "train_loss") == [1, 2, 3, 4, 5, 6]
    assert {2, 4, 6} <= set(metric_steps(db, job.id, "validation_loss"))
    assert set(metric_steps(db, job.id, "tokens_per_s")) == {1, 2, 3, 4, 5, 6}
    assert all(m.value > 0 for m in queue.job_metrics(db, [job.id]) if m.name == "tokens_per_s")
    adapter = get_adapter(db, "tiny-adapter")
    assert adapter.job_id == job.id and adapter.final_validation_loss > 0 and adapter.size_bytes > 0
    assert adapter.train_seconds > 0 and adapter.cost_usd > 0
    saved = json.loads((Path(adapter.path) / "training_config.json").read_text())
    assert saved["config"]["lora_r"] == 4 and "peft" in saved["versions"]
    assert (Path(adapter.path) / "adapter_config.json").is_file()
    assert not list(Path(adapter.path).parent.glob(".*partial"))
    tuned = LocalBackend(str(tiny_model_dir), adapter=adapter.path, dtype="float32")
    assert tuned.generate(Prompt.ask("Question number 3?"), GenerationOptions(max_new_tokens=4)).text


@pytest.mark.sqlite_only
def test_cancel_leaves_a_checkpoint_to_resume_from(db, training):
    job, _ = cancelled_with_a_checkpoint(db, training(max_steps=60, checkpoint_every=50))  # saved where it stopped
    job = scheduler.resume(db, job.id)
    job = wait_until(db, job.id, [queue.SUCCEEDED, queue.FAILED])
    assert job.status == queue.SUCCEEDED, job.error
    assert metric_steps(db, job.id, "train_loss") == list(range(1, 61))


@pytest.mark.sqlite_only
def test_two_jobs_with_one_slot_run_one_after_the_other(db, training):
    first = submit_training(db, training("first"), LOCAL_ADMIN)
    second = submit_training(db, training("second"), LOCAL_ADMIN)
    assert (first.status, second.status) == (queue.RUNNING, queue.QUEUED)
    # Nothing polls here: the first worker starts the second when it finishes.
    import time

    deadline = time.monotonic() + 180
    while queue.get_job(db, second.id).status in queue.ACTIVE and time.monotonic() < deadline:
        time.sleep(0.5)
    first, second = queue.get_job(db, first.id), queue.get_job(db, second.id)
    assert (first.status, second.status) == (queue.SUCCEEDED, queue.SUCCEEDED)
    assert second.started_at >= first.finished_at


def test_resuming_a_job_without_a_checkpoint_says_so(db, training):
    job = submit_training(db, training(max_steps=60, checkpoint_every=1000), LOCAL_ADMIN)
    wait_for_metric_step(db, job.id, 1)
    os.killpg(queue.get_job(db, job.id).pid, signal.SIGKILL)
    wait_until(db, job.id, [queue.INTERRUPTED])
    with pytest.raises(Exception, match="before its first checkpoint"):
        scheduler.resume(db, job.id)
    assert queue.get_job(db, job.id).status == queue.INTERRUPTED


def test_a_job_cancelled_as_its_worker_starts_ends_cancelled_not_interrupted(db, training):
    job = submit_training(db, training(), LOCAL_ADMIN)
    scheduler.cancel(db, job.id)  # the SIGTERM lands while the worker is still importing: it dies at once
    job = wait_until(db, job.id, [queue.CANCELLED, queue.INTERRUPTED, queue.SUCCEEDED, queue.FAILED])
    assert job.status == queue.CANCELLED, job.error
