"""Real SmolLM2 training jobs (slow): LoRA changes the model's answers; QLoRA runs on the CPU."""

from __future__ import annotations

import pytest

from core.access import LOCAL_ADMIN
from core.llm.adapters import get_adapter
from core.finetune.builders import import_sample
from core.finetune.config import TrainingConfig
from core.finetune.job import submit_training
from core.jobs import queue
from core.llm.base import GenerationOptions, Prompt
from core.llm.local import LocalBackend
from tests.training_fixtures import wait_until

pytestmark = pytest.mark.slow
QUESTION = Prompt.ask("How do I reset my password?")
SHORT = GenerationOptions(max_new_tokens=24)


@pytest.fixture
def sample(db):
    return import_sample(db, actor=LOCAL_ADMIN)


def test_a_lora_adapter_from_a_few_steps_loads_and_changes_the_answer(db, sample):
    job = submit_training(db, TrainingConfig(dataset=sample.name, adapter_name="house-style-test", max_steps=4,
                                             learning_rate=1e-3, eval_every=2, checkpoint_every=2), LOCAL_ADMIN)
    job = wait_until(db, job.id, [queue.SUCCEEDED, queue.FAILED], timeout=400)
    assert job.status == queue.SUCCEEDED, job.error
    base = LocalBackend("smollm2").generate(QUESTION, SHORT).text
    tuned = LocalBackend("smollm2", adapter=get_adapter(db, job.result["adapter"]).path)
    assert tuned.model_id == "local:SmolLM2-135M-Instruct+house-style-test"
    assert tuned.generate(QUESTION, SHORT).text != base


def test_qlora_trains_a_few_steps_on_the_cpu(db, sample):
    job = submit_training(db, TrainingConfig(dataset=sample.name, adapter_name="house-style-qlora", qlora=True,
                                             max_steps=2, batch_size=2, max_seq_length=128, eval_every=2,
                                             checkpoint_every=2), LOCAL_ADMIN)
    job = wait_until(db, job.id, [queue.SUCCEEDED, queue.FAILED], timeout=500)
    assert job.status == queue.SUCCEEDED, job.error
    assert job.config["training"]["qlora"] is True
    losses = [m.value for m in queue.job_metrics(db, [job.id]) if m.name == "train_loss"]
    assert len(losses) == 2 and all(loss > 0 for loss in losses)
