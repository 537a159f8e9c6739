"""The local backend on a tiny random model: mechanics, not answer quality."""

import json
import os

import pytest

from core.errors import InvalidInputError, NotFoundError
from core.llm.base import GenerationOptions, Message, Prompt
from core.llm.loading import load_model, resolve_dtype
from core.llm.local import LocalBackend
from core.llm.spec import parse_spec
from tests.tiny_model import TINY_CONTEXT

SHORT = GenerationOptions(max_new_tokens=6)


@pytest.fixture
def tiny(tiny_model_dir):
    return LocalBackend(str(tiny_model_dir), dtype="float32")


def test_a_completion_carries_tokens_latency_and_cost(tiny, monkeypatch):
    monkeypatch.setenv("RAGTUNE_LOCAL_USD_PER_HOUR", "3600")
    completion = tiny.generate(Prompt.ask("What is the capital of France?"), SHORT)
    assert completion.model == "local:tiny-chat"
    assert completion.text
    assert completion.input_tokens > 10  # the chat template's tokens count too
    assert 1 <= completion.output_tokens <= 6
    assert completion.latency_ms > 0
    assert completion.cost_usd == pytest.approx(completion.latency_ms / 1000)
    assert completion.warnings == ()


def test_greedy_batched_answers_equal_one_at_a_time_answers(tiny):
    prompts = [Prompt.ask("hi"), Prompt.ask("a much longer question that needs left padding in a batch"),
               Prompt.ask("third", system="Be brief.")]
    single = [tiny.generate(p, SHORT).text for p in prompts]
    assert [c.text for c in tiny.generate_batch(prompts, SHORT)] == single


def test_batches_are_split_into_generate_calls_of_batch_size(tiny_model_dir):
    backend = LocalBackend(str(tiny_model_dir), dtype="float32", batch_size=2)
    completions = backend.generate_batch([Prompt.ask(f"q{i}") for i in range(5)], SHORT)
    assert len(completions) == 5 and len({c.latency_ms for c in completions}) == 3


def test_sampling_when_temperature_is_positive(tiny):
    options = GenerationOptions(max_new_tokens=12, temperature=1.5)
    texts = {tiny.generate(Prompt.ask("hi"), options).text for _ in range(4)}
    assert len(texts) > 1


def test_the_answer_ends_before_a_stop_string(tiny):
    full = tiny.generate(Prompt.ask("hi"), GenerationOptions(max_new_tokens=12)).text
    stop = full.split()[2]
    cut = tiny.generate(Prompt.ask("hi"), GenerationOptions(max_new_tokens=12, stop=(stop,))).text
    assert stop not in cut and full.startswith(cut)


def test_a_prompt_longer_than_the_context_is_cut_from_the_left_keeping_the_system_prompt(tiny):
    prompt = Prompt(system="Answer from the notes.",
                    messages=(Message("user", "old " * 200), Message("assistant", "ok"), Message("user", "last?")))
    completion = tiny.generate(prompt, SHORT)
    assert completion.input_tokens == TINY_CONTEXT - SHORT.max_new_tokens
    assert "tokens after the system prompt were dropped" in completion.warnings[0]
    kept = tiny._encode(prompt, TINY_CONTEXT - SHORT.max_new_tokens)[0]
    text = tiny.loaded.tokenizer.decode(kept)
    assert text.startswith("<|im_start|>system\nAnswer from the notes.") and text.rstrip().endswith("assistant")


def test_too_many_new_tokens_for_the_context_are_capped_with_a_warning(tiny):
    completion = tiny.generate(Prompt.ask("hi"), GenerationOptions(max_new_tokens=10_000))
    assert completion.output_tokens <= TINY_CONTEXT // 2
    assert "max_new_tokens 10000 does not fit" in completion.warnings[0]


def test_loaded_models_are_shared_per_process(tiny_model_dir):
    assert load_model(str(tiny_model_dir), None, "float32") is load_model(str(tiny_model_dir), None, "float32")


def test_bfloat16_is_a_choice(tiny_model_dir):
    backend = LocalBackend(str(tiny_model_dir), dtype="bfloat16")
    assert backend.loaded.dtype == "bfloat16" and str(backend.loaded.model.dtype) == "torch.bfloat16"
    assert backend.generate(Prompt.ask("hi"), SHORT).text


def test_auto_dtype_is_a_real_dtype():
    assert resolve_dtype("auto", "cpu") in ("bfloat16", "float32")
    assert resolve_dtype("float16", "cpu") == "float16"


def test_a_missing_model_folder_is_named(tmp_path):
    with pytest.raises(NotFoundError, match="does not exist"):
        LocalBackend(str(tmp_path / "nope"))


def test_a_folder_that_is_not_a_model_is_explained(tmp_path):
    with pytest.raises(InvalidInputError, match="no config.json"):
        LocalBackend(str(tmp_path))


def test_a_model_without_a_chat_template_is_refused(tiny_model_dir, tmp_path):
    import shutil

    plain = tmp_path / "plain-model"
    shutil.copytree(tiny_model_dir, plain)
    config = json.loads((plain / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (plain / "tokenizer_config.json").write_text(json.dumps(config))
    (plain / "chat_template.jinja").unlink(missing_ok=True)
    with pytest.raises(InvalidInputError, match="no chat template"):
        LocalBackend(str(plain))


def test_a_hub_id_that_is_not_downloaded_is_not_fetched():
    with pytest.raises(NotFoundError, match="not available offline"):
        LocalBackend("someone/some-model")


@pytest.fixture
def tiny_adapter(tiny_model_dir, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    folder = tmp_path / "adapters" / "support-v1"
    get_peft_model(model, config).save_pretrained(folder)
    return folder


def test_a_lora_adapter_is_applied_at_load(tiny_model_dir, tiny_adapter, tiny):
    tuned = LocalBackend(str(tiny_model_dir), adapter=str(tiny_adapter), dtype="float32")
    assert tuned.model_id == "local:tiny-chat+support-v1"
    prompt = Prompt.ask("hi")
    assert tuned.generate(prompt, SHORT).text != tiny.generate(prompt, SHORT).text


@pytest.mark.parametrize("damage, problem", [
    (lambda f: (f / "adapter_config.json").write_text("{not json"), "not valid JSON"),
    (lambda f: (f / "adapter_model.safetensors").unlink(), "no adapter weights"),
    (lambda f: (f / "adapter_model.safetensors").write_bytes(b"garbage"), "cannot be applied"),
    (lambda f: (f / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 4,
                                                                   "target_modules": ["nothing_here"]})),
     "cannot be applied"),
], ids=["config-not-json", "weights-missing", "weights-garbage", "wrong-target-modules"])
def test_a_corrupt_adapter_folder_is_explained(tiny_model_dir, tiny_adapter, damage, problem):
    damage(tiny_adapter)
    with pytest.raises(InvalidInputError, match=problem):
        LocalBackend(str(tiny_model_dir), adapter=str(tiny_adapter))


def test_a_missing_adapter_folder_is_named(tiny_model_dir, tmp_path):
    with pytest.raises(InvalidInputError, match="does not exist"):
        LocalBackend(str(tiny_model_dir), adapter=str(tmp_path / "gone"))


def pickled_only(folder, weights: str, pickled: str) -> None:
    """Replace a folder's safetensors weights by the same tensors pickled, as older tools saved them."""
    import torch
    from safetensors.torch import load_file

    torch.save(load_file(folder / weights), folder / pickled)
    (folder / weights).unlink()


def test_a_model_folder_with_pickled_weights_only_is_refused(tiny_model_dir, tmp_path):
    import shutil

    assert (tiny_model_dir / "model.safetensors").is_file()  # the fixture's own folder loads as it is
    old = tmp_path / "old-model"
    shutil.copytree(tiny_model_dir, old)
    pickled_only(old, "model.safetensors", "pytorch_model.bin")
    with pytest.raises(InvalidInputError, match="only as pytorch_model.bin .*safetensors only"):
        LocalBackend(str(old))


def test_an_adapter_with_pickled_weights_only_is_refused(tiny_model_dir, tiny_adapter):
    pickled_only(tiny_adapter, "adapter_model.safetensors", "adapter_model.bin")
    with pytest.raises(InvalidInputError, match="only as adapter_model.bin .*safetensors only"):
        LocalBackend.from_spec(parse_spec(f"local:{tiny_model_dir}?adapter={tiny_adapter}"))


def test_typed_model_and_adapter_folders_must_lie_in_an_allowed_root(tiny_model_dir, tiny_adapter, tmp_path,
                                                                      monkeypatch):
    monkeypatch.setenv("RAGTUNE_ALLOWED_ROOTS", str(tmp_path / "adapters"))
    with pytest.raises(InvalidInputError, match="outside the folders the lab may read"):
        LocalBackend.from_spec(parse_spec(f"local:{tiny_model_dir}"))
    monkeypatch.setenv("RAGTUNE_ALLOWED_ROOTS", str(tiny_model_dir))
    with pytest.raises(InvalidInputError, match="outside the folders the lab may read"):
        LocalBackend.from_spec(parse_spec(f"local:{tiny_model_dir}?adapter={tmp_path / 'elsewhere'}"))
    monkeypatch.setenv("RAGTUNE_ALLOWED_ROOTS", os.pathsep.join([str(tiny_model_dir), str(tiny_adapter)]))
    assert LocalBackend.from_spec(parse_spec(f"local:{tiny_model_dir}?adapter={tiny_adapter}")).model_id == (
        "local:tiny-chat+support-v1")


def test_sampled_generation_repeats_with_the_same_seed(tiny):
    prompts = [Prompt.ask("Say something."), Prompt.ask("Say more.")]
    sampled = GenerationOptions(max_new_tokens=12, temperature=1.5, seed=7)
    first, again = tiny.generate_batch(prompts, sampled), tiny.generate_batch(prompts, sampled)
    assert [c.text for c in first] == [c.text for c in again]
    others = [tiny.generate_batch(prompts, GenerationOptions(max_new_tokens=12, temperature=1.5, seed=s))
              for s in range(8, 12)]
    assert any([c.text for c in other] != [c.text for c in first] for other in others)
