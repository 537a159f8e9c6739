"""The local transformers backend: a model on this machine's CPU or GPU.

Prompts go through the model's own chat template; a batch is one left-padded
`generate` call, which is where local evaluation gets its throughput. A prompt
longer than the context window loses its oldest turns (never the system
prompt) and says so in the completion's warnings instead of failing.
"""

from __future__ import annotations

import time
from typing import Optional, Sequence

import torch

from core import cpu_share
from core.errors import InvalidInputError
from core.imports import first_imports
from core.llm.base import Backend, Completion, GenerationOptions, Prompt
from core.llm.defaults import DEFAULT_MODEL
from core.llm.loading import LoadedModel, load_model
from core.llm.pricing import hourly_cost
from core.llm.spec import SystemSpec

DEFAULT_BATCH_SIZE = 8
FALLBACK_CONTEXT = 2048


class LocalBackend(Backend):
    """Generates with a (cached) local model; see `core.llm.loading` for sources."""

    native_batching = True

    def __init__(self, source: str = DEFAULT_MODEL, adapter: Optional[str] = None,
                 dtype: str = "auto", device: str = "auto", batch_size: int = DEFAULT_BATCH_SIZE,
                 shared: bool = True):
        """`shared=False` loads a copy of its own that this process's model cache
        does not keep (the model server manages its models' memory itself)."""
        load = load_model if shared else load_model.__wrapped__
        self.loaded: LoadedModel = load(source, adapter, dtype, device)
        if not self.loaded.tokenizer.chat_template:
            raise InvalidInputError(
                f"{self.loaded.name} has no chat template, so it cannot be asked questions as a chat: "
                "use an instruct/chat model (or add a chat_template to its tokenizer_config.json).")
        self.model_id = f"local:{self.loaded.name}"
        self.batch_size = batch_size

    @classmethod
    def from_spec(cls, spec: SystemSpec, shared: bool = True) -> "LocalBackend":
        """The model a `local` spec names; `adapter=NAME` is a registered adapter, else a folder."""
        options = spec.typed_options
        if "adapter" in options:
            from core.llm.adapters import adapter_path
            from core.store import current_database

            options["adapter"] = adapter_path(current_database(), options["adapter"])
        return cls(spec.model, **options, shared=shared)

    @property
    def context_window(self) -> int:
        config = self.loaded.model.config
        return getattr(config, "max_position_embeddings", None) or FALLBACK_CONTEXT

    def generate(self, prompt: Prompt, options: GenerationOptions = GenerationOptions()) -> Completion:
        return self.generate_batch([prompt], options)[0]

    def generate_batch(self, prompts: Sequence[Prompt],
                       options: GenerationOptions = GenerationOptions()) -> list[Completion]:
        completions: list[Completion] = []
        for start in range(0, len(prompts), self.batch_size):
            completions.extend(self._generate_chunk(prompts[start:start + self.batch_size], options))
        return completions

    def _generate_chunk(self, prompts: Sequence[Prompt], options: GenerationOptions) -> list[Completion]:
        max_new, warnings = self._new_token_budget(options.max_new_tokens)
        encoded = [self._encode(prompt, self.context_window - max_new) for prompt in prompts]
        started = time.perf_counter()
        rows = self._run_generate([ids for ids, _ in encoded], max_new, options)
        seconds = time.perf_counter() - started
        cost_each = hourly_cost(seconds) / len(prompts)
        return [
            Completion(text=_cut_at_stop(self._decode(row), options.stop), input_tokens=len(ids),
                       output_tokens=len(row), latency_ms=seconds * 1000, model=self.model_id,
                       cost_usd=cost_each, warnings=warnings + prompt_warnings)
            for (ids, prompt_warnings), row in zip(encoded, rows)
        ]

    def _new_token_budget(self, max_new_tokens: int) -> tuple[int, tuple[str, ...]]:
        limit = self.context_window // 2
        if max_new_tokens <= limit:
            return max_new_tokens, ()
        return limit, (f"max_new_tokens {max_new_tokens} does not fit the model's context of "
                       f"{self.context_window} tokens with a prompt: generated at most {limit}.",)

    def _encode(self, prompt: Prompt, budget: int) -> tuple[list[int], tuple[str, ...]]:
        """Token ids of the templated prompt, cut from the left to `budget` tokens
        while keeping the system prompt at the front."""
        system = [{"role": "system", "content": prompt.system}] if prompt.system else []
        turns = [{"role": m.role, "content": m.content} for m in prompt.messages]
        ids = self._template_ids(system + turns, add_generation_prompt=True)
        if len(ids) <= budget:
            return ids, ()
        head = self._template_ids(system, add_generation_prompt=False) if system else []
        if ids[:len(head)] != head or len(head) >= budget:
            head = []  # a template that does not put the system prompt first cannot keep it
        kept = head + ids[len(ids) - (budget - len(head)):]
        warning = (f"The prompt was {len(ids)} tokens, more than the {budget} the model's context of "
                   f"{self.context_window} leaves after the answer: the oldest {len(ids) - len(kept)} "
                   "tokens after the system prompt were dropped.")
        return kept, (warning,)

    def _template_ids(self, messages: list[dict], add_generation_prompt: bool) -> list[int]:
        tokenizer = self.loaded.tokenizer
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)
        return tokenizer(text, add_special_tokens=False)["input_ids"]

    @torch.inference_mode()
    def _run_generate(self, batch: list[list[int]], max_new: int, options: GenerationOptions) -> list[list[int]]:
        """One `generate` call for the batch; returns each row's new tokens up to its end."""
        with first_imports():
            from transformers import GenerationConfig

        tokenizer, model = self.loaded.tokenizer, self.loaded.model
        padded = tokenizer.pad({"input_ids": batch}, padding=True, return_tensors="pt").to(self.loaded.device)
        sampling = options.temperature > 0
        config = GenerationConfig(
            max_new_tokens=max_new, do_sample=sampling, temperature=options.temperature if sampling else None,
            top_p=None, top_k=None, pad_token_id=tokenizer.pad_token_id,
            eos_token_id=model.generation_config.eos_token_id or tokenizer.eos_token_id,
            stop_strings=list(options.stop) or None,
        )
        if sampling and options.seed is not None:
            torch.manual_seed(options.seed)
        with cpu_share.computing(self.loaded.device):
            output = model.generate(**padded, generation_config=config, tokenizer=tokenizer)
        new_tokens = output[:, padded["input_ids"].shape[1]:].tolist()
        return [_until_end(row, _end_ids(config, tokenizer)) for row in new_tokens]

    def _decode(self, ids: list[int]) -> str:
        return self.loaded.tokenizer.decode(ids, skip_special_tokens=True).strip()


def _end_ids(config, tokenizer) -> set[int]:
    eos = config.eos_token_id
    ends = set(eos) if isinstance(eos, (list, tuple)) else {eos}
    return {i for i in ends | {tokenizer.pad_token_id} if i is not None}


def _until_end(row: list[int], ends: set[int]) -> list[int]:
    """The generated tokens through the first end token (rows that finish early are padded)."""
    for position, token in enumerate(row):
        if token in ends:
            return row[:position + 1]
    return row


def _cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """generate stops *after* a stop string; the answer ends before it."""
    cuts = [text.find(s) for s in stop if s and s in text]
    return text[:min(cuts)].rstrip() if cuts else text
