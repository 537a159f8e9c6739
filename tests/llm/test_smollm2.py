"""The real default model, SmolLM2-135M-Instruct, end to end (slow: ~1-2 minutes on 2 cores)."""

import json
import time

import pytest

from core.llm.base import GenerationOptions, Prompt
from core.llm.loading import load_model
from core.llm.sources import smollm2_cache_dir
from core.llm.local import LocalBackend
from core.llm.spec import parse_spec
from core.systems import build_backend

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def first_load(tmp_path_factory):
    """SmolLM2 loaded the first time, into an empty models dir: from the GGUF."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("RAGTUNE_MODELS_DIR", str(tmp_path_factory.mktemp("models")))
        load_model.cache_clear()
        started = time.perf_counter()
        backend = build_backend(parse_spec("local"))
        yield backend, time.perf_counter() - started, smollm2_cache_dir()
    load_model.cache_clear()


def test_the_default_model_answers_a_simple_question(first_load):
    backend, _, _ = first_load
    completion = backend.generate(Prompt.ask("What is the capital of France? Answer in one word."),
                                  GenerationOptions(max_new_tokens=12))
    assert "Paris" in completion.text
    assert completion.model == "local:SmolLM2-135M-Instruct" and completion.output_tokens <= 12


def test_the_first_load_saves_a_copy_that_later_loads_use(first_load, monkeypatch):
    _, gguf_seconds, cache = first_load
    assert (cache / "model.safetensors").is_file() and (cache / "tokenizer.json").is_file()
    assert "quantization_config" not in json.loads((cache / "config.json").read_text())
    monkeypatch.setenv("RAGTUNE_MODELS_DIR", str(cache.parent.parent))
    load_model.cache_clear()
    started = time.perf_counter()
    LocalBackend(dtype="float32")
    assert time.perf_counter() - started < gguf_seconds / 2


def test_batched_greedy_answers_equal_one_at_a_time_answers(first_load, monkeypatch):
    _, _, cache = first_load
    monkeypatch.setenv("RAGTUNE_MODELS_DIR", str(cache.parent.parent))
    backend = LocalBackend(dtype="float32")  # bfloat16 rounding differs with padding; float32 does not
    prompts = [Prompt.ask("Name a primary colour."), Prompt.ask("What is 2 + 2? Answer with a number.")]
    options = GenerationOptions(max_new_tokens=8)
    assert [c.text for c in backend.generate_batch(prompts, options)] == \
        [backend.generate(p, options).text for p in prompts]
