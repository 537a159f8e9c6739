"""A real SmolLM2 training job (slow): LoRA changes the model's answers."""

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
