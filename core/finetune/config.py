"""The training config: every knob of a LoRA / QLoRA run, validated in one place.

It is saved beside the adapter (`training_config.json`, next to peft's
`adapter_config.json`) with the library versions, so an adapter always says
how it was made. The defaults finish in a few minutes on 2 CPU cores with
SmolLM2-135M on the shipped sample dataset.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from core.errors import InvalidInputError
from core.llm.defaults import DEFAULT_MODEL, DEVICE_CHOICES

PRECISIONS = ("auto", "bf16", "fp16", "fp32")
SCHEDULES = ("cosine", "linear", "constant", "constant_with_warmup")
COMPUTE_DTYPES = ("bfloat16", "float16", "float32")
METHODS = ("sft", "dpo")  # supervised answers, or preference pairs (chosen over rejected)
# What `train` uses unless told: DPO's loss pushes on the gap between two answers' log-likelihoods, and LoRA
# DPO recipes use 5e-6 to 5e-5, far below the rate that teaches SFT the sample's format here.
DEFAULT_LEARNING_RATES = {"sft": 1e-3, "dpo": 5e-5}
DEFAULT_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj")


@dataclass(frozen=True)
class TrainingConfig:
    dataset: str  # a registered dataset's name
    adapter_name: str  # the name the adapter is registered under: `local?adapter=NAME`
    method: str = "sft"  # "dpo" trains on a preferences dataset (`core.finetune.preferences`)
    beta: float = 0.1  # DPO only: how far the adapter may move from the base (higher stays closer); trl's default
    base_model: str = DEFAULT_MODEL  # `smollm2`, a local model folder, or a cached hub id
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: tuple[str, ...] = DEFAULT_TARGETS
    qlora: bool = False  # 4-bit NF4 base weights through bitsandbytes (CUDA or CPU)
    double_quant: bool = True
    compute_dtype: str = "bfloat16"  # what QLoRA computes in
    epochs: float = 3.0
    max_steps: int = 0  # when > 0, overrides epochs
    learning_rate: float = 1e-3  # 5e-4 for 3 epochs left the sample's format half learned (0 of 8 held out)
    lr_schedule: str = "cosine"
    warmup_ratio: float = 0.05
    batch_size: int = 8
    gradient_accumulation: int = 1
    max_seq_length: int = 256
    eval_every: int = 10  # steps between validation losses
    checkpoint_every: int = 10  # steps between checkpoints (cancel and resume continue from the last)
    seed: int = 0
    precision: str = "auto"  # bf16 where the device computes it natively, else fp32 (fp16 on older GPUs)
    device: str = "auto"
    extra: dict[str, Any] = field(default_factory=dict)  # notes a caller keeps with the run

    def __post_init__(self) -> None:
        # The range checks compare numbers: they run once every value has its type.
        problems = list(_wrong_types(self)) or [problem for check in _CHECKS for problem in check(self)]
        if problems:
            raise InvalidInputError("The training config is not valid: " + "; ".join(problems) + ".")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["target_modules"] = list(self.target_modules)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainingConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidInputError(f"Unknown training setting(s): {', '.join(unknown)}.")
        values = dict(data)
        if isinstance(values.get("target_modules"), list):  # JSON has no tuples
            values["target_modules"] = tuple(values["target_modules"])
        return cls(**values)


def _positive(config: TrainingConfig):
    for name in ("lora_r", "lora_alpha", "batch_size", "gradient_accumulation", "max_seq_length",
                 "eval_every", "checkpoint_every"):
        if getattr(config, name) < 1:
            yield f"{name} must be at least 1 (it is {getattr(config, name)})"
    if config.max_seq_length < 16:
        yield f"max_seq_length {config.max_seq_length} leaves no room for a prompt and an answer (use 64 or more)"


def _ranges(config: TrainingConfig):
    if not 0 <= config.lora_dropout < 1:
        yield f"lora_dropout must be in [0, 1) (it is {config.lora_dropout})"
    if not 0 < config.learning_rate < 1:
        yield f"learning_rate must be between 0 and 1 (it is {config.learning_rate})"
    if not 0 <= config.warmup_ratio < 1:
        yield f"warmup_ratio must be in [0, 1) (it is {config.warmup_ratio})"
    if config.beta <= 0:
        yield f"beta must be more than 0 (it is {config.beta})"
    if config.max_steps < 0 or config.epochs < 0 or (config.max_steps == 0 and config.epochs == 0):
        yield "set epochs or max_steps to more than 0"


def _choices(config: TrainingConfig):
    for name, choices in (("method", METHODS), ("precision", PRECISIONS), ("lr_schedule", SCHEDULES),
                          ("compute_dtype", COMPUTE_DTYPES), ("device", DEVICE_CHOICES)):
        if getattr(config, name) not in choices:
            yield f"{name} {getattr(config, name)!r} is not one of {', '.join(choices)}"
    if not config.target_modules or not all(isinstance(m, str) and m for m in config.target_modules):
        yield "target_modules must name at least one module, e.g. q_proj, v_proj"


def _names(config: TrainingConfig):
    if not config.dataset.strip():
        yield "dataset is empty: pick a dataset"
    if not config.adapter_name.strip():
        yield "adapter_name is empty: name the adapter"
    if not config.base_model.strip():
        yield "base_model is empty"


_CHECKS = (_positive, _ranges, _choices, _names)
_KIND_NAMES = {bool: "true or false", int: "a whole number", float: "a finite number", str: "text",
               tuple: "a list of module names, e.g. q_proj, v_proj", dict: "an object"}
_FIELD_KINDS = {**{f.name: type(f.default) for f in fields(TrainingConfig) if type(f.default) in _KIND_NAMES},
                "dataset": str, "adapter_name": str, "extra": dict}


def _wrong_types(config: TrainingConfig):
    for name, kind in _FIELD_KINDS.items():
        value = getattr(config, name)
        if not _is_kind(value, kind):
            yield f"{name} must be {_KIND_NAMES[kind]}, not {value!r}"


def _is_kind(value: Any, kind: type) -> bool:
    if isinstance(value, bool) or kind is bool:  # a bool is an int to Python, never to a config
        return isinstance(value, bool) and kind is bool
    if kind is float:
        return isinstance(value, (int, float)) and math.isfinite(value)
    return isinstance(value, kind)
