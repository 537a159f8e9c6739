"""One LoRA / QLoRA run: transformers' Trainer over a peft model, reporting to a callback.

What both training methods share lives here: loading the base, the LoRA settings, the Trainer's
arguments, the callback that reports metrics and stops on cancel, checkpoints and resuming. SFT
(below) and DPO (`preference_trainer`) differ only in the data and the Trainer they build.

For SFT, each example is a prompt (every message but the last, through the model's chat
template) and an answer (the last message); the loss covers the answer tokens
only. The Trainer does the loop, the schedule, mixed precision, checkpoints and
resuming from them; this module prepares the tokens, chooses the settings and
turns the Trainer's logs into our metrics.

Why not trl's SFTTrainer, which does the same masking: on this CPU it trained at
0.4-0.6x the tokens/s of the plain Trainer on the same config (it computes the
loss through its own LM head and adds entropy / token-accuracy metrics every
step); `bench/lora_training.py` keeps both for comparison.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from transformers import TrainerCallback

from core import cpu_share
from core.errors import InvalidInputError
from core.finetune.config import TrainingConfig
from core.hardware import native_bfloat16
from core.llm.loading import DTYPES, load_pretrained, resolve_device
from core.llm.sources import resolve_source

ReportMetrics = Callable[[int, dict[str, float]], None]
ReportProgress = Callable[[float, str], None]


@dataclass(frozen=True)
class RunOutcome:
    stopped_early: bool  # a cancel was asked for: a checkpoint was saved at the last step
    steps: int
    max_steps: int
    final_validation_loss: Optional[float]
    train_seconds: float  # this attempt's time in the training loop
    tokens_seen: int
    truncated_examples: int  # longer than max_seq_length: their answers were cut to fit


def resolved_precision(config: TrainingConfig, device: str) -> str:
    """bf16 where the device computes it natively; fp16 on older GPUs; else fp32."""
    if config.precision != "auto":
        return config.precision
    if native_bfloat16(device):
        return "bf16"
    return "fp16" if device == "cuda" else "fp32"


def last_checkpoint(checkpoint_dir: Path) -> Optional[Path]:
    """The newest complete checkpoint. The Trainer writes its state file last, so a folder without one is a
    save that a full disk or a kill cut short: resuming from it would fail, so the one before is used."""
    from transformers.trainer import TRAINER_STATE_NAME
    from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

    if not checkpoint_dir.is_dir():
        return None
    complete = [folder for folder in checkpoint_dir.glob(f"{PREFIX_CHECKPOINT_DIR}-*")
                if folder.name.split("-")[-1].isdigit() and (folder / TRAINER_STATE_NAME).is_file()]
    return max(complete, key=lambda folder: int(folder.name.split("-")[-1]), default=None)


def load_for_training(config: TrainingConfig, device: str) -> tuple[Any, Any]:
    """The base model in float32 (or 4-bit NF4 for QLoRA) and its tokenizer, from the
    loader's training path: SmolLM2 from its safetensors copy, never the GGUF."""
    folder, _ = resolve_source(config.base_model)
    model_kwargs: dict[str, Any] = {}
    if config.qlora:
        from transformers import BitsAndBytesConfig

        model_kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=config.double_quant,
            bnb_4bit_compute_dtype=DTYPES[config.compute_dtype])
        model_kwargs["device_map"] = {"": 0 if device == "cuda" else "cpu"}
    model, tokenizer = load_pretrained(folder, model_kwargs)
    if not tokenizer.chat_template:
        raise InvalidInputError(f"{config.base_model} has no chat template: fine-tune an instruct/chat model.")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if config.qlora:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    return model, tokenizer


def train(config: TrainingConfig, train_examples: Sequence[dict], validation_examples: Sequence[dict],
          checkpoint_dir: Path, report_metrics: ReportMetrics, report_progress: ReportProgress,
          should_stop: Callable[[], bool], resume: bool = False) -> tuple[Any, RunOutcome]:
    """Train by `config.method` (SFT on chats, DPO on preference pairs); returns the peft model (adapter
    attached) and how the run went."""
    from core.finetune.preference_trainer import dpo_trainer

    device = resolve_device(config.device)
    model, tokenizer = load_for_training(config, device)
    check_lora_targets(model, config)
    callback = MetricsCallback(report_metrics, report_progress, should_stop)
    build = dpo_trainer if config.method == "dpo" else sft_trainer
    trainer, truncated = build(config, cpu_share.watch(model), tokenizer, train_examples, validation_examples,
                               trainer_settings(config, checkpoint_dir, device, bool(validation_examples)), callback)
    checkpoint = last_checkpoint(checkpoint_dir) if resume else None
    with cpu_share.computing(device):
        trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
        final_loss = None
        if validation_examples and not callback.stopped:
            final_loss = trainer.evaluate()["eval_loss"]
    state = trainer.state
    if final_loss is not None:
        report_metrics(state.global_step, {"validation_loss": final_loss})
    return trainer.model, RunOutcome(
        stopped_early=callback.stopped, steps=state.global_step, max_steps=state.max_steps,
        final_validation_loss=final_loss, train_seconds=callback.train_seconds,
        tokens_seen=int(state.num_input_tokens_seen or 0), truncated_examples=truncated)


def sft_trainer(config: TrainingConfig, model: Any, tokenizer: Any, train_examples: Sequence[dict],
                validation_examples: Sequence[dict], settings: dict[str, Any], callback: TrainerCallback):
    """transformers' Trainer learning each example's answer, and how many examples were cut to fit."""
    from peft import get_peft_model
    from transformers import DataCollatorForSeq2Seq, Trainer, TrainingArguments

    train_rows, truncated = tokenise(tokenizer, train_examples, config.max_seq_length)
    validation_rows, truncated_validation = tokenise(tokenizer, validation_examples, config.max_seq_length)
    trainer = Trainer(
        model=get_peft_model(model, lora_config(config)), args=TrainingArguments(**settings),
        train_dataset=train_rows, eval_dataset=validation_rows or None, callbacks=[callback],
        data_collator=DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=IGNORED))
    return trainer, truncated + truncated_validation


def lora_config(config: TrainingConfig) -> Any:
    from peft import LoraConfig

    return LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                      target_modules=list(config.target_modules), task_type="CAUSAL_LM")


def check_lora_targets(model: Any, config: TrainingConfig) -> None:
    """peft needs at least one of the target modules in the model (it matches them by their last name)."""
    names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    if not names & set(config.target_modules):
        linear = sorted({name.rsplit(".", 1)[-1] for name, module in model.named_modules()
                         if type(module).__name__.startswith("Linear")})
        raise InvalidInputError(f"LoRA target modules {', '.join(config.target_modules)} do not fit "
                                f"{config.base_model}: its linear layers are {', '.join(linear) or 'unknown'}.")


IGNORED = -100  # the label PyTorch's cross-entropy skips: prompt tokens and padding
# What trl's DPOTrainer logs beside its loss, as our metric names: how often, and by how much, the adapter
# prefers the chosen answer over the rejected one more than the base does.
PREFERENCE_LOGS = {"rewards/accuracies": "reward_accuracy", "rewards/margins": "reward_margin",
                   "eval_rewards/accuracies": "validation_reward_accuracy",
                   "eval_rewards/margins": "validation_reward_margin"}


def tokenise(tokenizer: Any, examples: Sequence[dict], max_length: int) -> tuple[list[dict], int]:
    """Token ids with labels on the answer only, cut to `max_length`; returns the rows
    and how many were cut."""
    rows, truncated = [], 0
    for prompt_ids, answer_ids in prompts_and_answers(tokenizer, [e["messages"] for e in examples], max_length):
        truncated += len(prompt_ids) + len(answer_ids) > max_length
        ids = (prompt_ids + answer_ids)[:max_length]
        labels = ([IGNORED] * len(prompt_ids) + answer_ids)[:max_length]
        rows.append({"input_ids": ids, "attention_mask": [1] * len(ids), "labels": labels})
    return rows, truncated


def prompts_and_answers(tokenizer: Any, conversations: Sequence[list[dict]],
                        max_length: int) -> list[tuple[list[int], list[int]]]:
    """Each conversation's prompt and answer token ids. A conversation whose prompt alone fills `max_length`
    would teach nothing, so it is refused with the conversations named."""
    split, hopeless = [], []
    for number, messages in enumerate(conversations, start=1):
        prompt_ids, answer_ids = _prompt_and_answer_ids(tokenizer, messages)
        if len(prompt_ids) >= max_length:
            hopeless.append((number, len(prompt_ids)))
        split.append((prompt_ids, answer_ids))
    if hopeless:
        shown = ", ".join(f"#{n} ({tokens} tokens)" for n, tokens in hopeless[:5])
        raise InvalidInputError(
            f"{len(hopeless)} example(s) have prompts of max_seq_length={max_length} tokens or more, which leaves "
            f"no room for the answer to learn from: {shown}. Raise max_seq_length or shorten those prompts.")
    return split


def _prompt_and_answer_ids(tokenizer: Any, messages: list[dict]) -> tuple[list[int], list[int]]:
    """The templated conversation split where the answer starts (the template's
    text for the prompt with its generation prompt is a prefix of the whole)."""
    prompt = tokenizer.apply_chat_template(messages[:-1], add_generation_prompt=True, tokenize=False)
    full = tokenizer.apply_chat_template(messages, tokenize=False)
    if not full.startswith(prompt):
        raise InvalidInputError("The model's chat template writes the prompt differently on its own and inside the "
                                "whole conversation, so the answer cannot be told apart: use another base model.")
    encode = lambda text: tokenizer(text, add_special_tokens=False)["input_ids"]  # noqa: E731
    return encode(prompt), encode(full[len(prompt):])


def trainer_settings(config: TrainingConfig, checkpoint_dir: Path, device: str, has_validation: bool) -> dict[str, Any]:
    """The TrainingArguments both methods share (DPO's config extends them)."""
    precision = resolved_precision(config, device)
    return dict(
        output_dir=str(checkpoint_dir), seed=config.seed, data_seed=config.seed,
        num_train_epochs=config.epochs, max_steps=config.max_steps or -1,
        per_device_train_batch_size=config.batch_size, per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.gradient_accumulation,
        learning_rate=config.learning_rate, lr_scheduler_type=config.lr_schedule, warmup_steps=config.warmup_ratio,
        bf16=precision == "bf16", fp16=precision == "fp16", use_cpu=device == "cpu",
        logging_steps=1, eval_strategy="steps" if has_validation else "no", eval_steps=config.eval_every,
        save_strategy="steps", save_steps=config.checkpoint_every, save_total_limit=2,
        include_num_input_tokens_seen="non_padding", report_to=[], disable_tqdm=True, dataloader_num_workers=0,
        remove_unused_columns=False,
    )


class MetricsCallback(TrainerCallback):
    """Trainer events become our metrics, progress and cancellation."""

    def __init__(self, report_metrics: ReportMetrics, report_progress: ReportProgress, should_stop: Callable[[], bool]):
        self.report_metrics, self.report_progress, self.should_stop = report_metrics, report_progress, should_stop
        self.stopped = False
        self.train_seconds = 0.0
        self._step_started = 0.0
        self._seconds_since_log = 0.0
        self._tokens_at_log = 0

    def on_train_begin(self, args, state, control, **kwargs):
        self._tokens_at_log = state.num_input_tokens_seen or 0

    def on_step_begin(self, args, state, control, **kwargs):
        self._step_started = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        seconds = time.perf_counter() - self._step_started
        self.train_seconds += seconds
        self._seconds_since_log += seconds
        self.report_progress(state.global_step / max(state.max_steps, 1), f"step {state.global_step}/{state.max_steps}")
        if self.should_stop():
            self.stopped = True
            control.should_save = True  # the Trainer saves a checkpoint at this step, then stops
            control.should_training_stop = True
        return control

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        values: dict[str, float] = {}
        if "loss" in logs:
            values.update(train_loss=logs["loss"], learning_rate=logs.get("learning_rate"),
                          grad_norm=logs.get("grad_norm"), epoch=logs.get("epoch"))
            tokens = state.num_input_tokens_seen or 0
            if self._seconds_since_log > 0:
                values["tokens_per_s"] = (tokens - self._tokens_at_log) / self._seconds_since_log
            self._tokens_at_log, self._seconds_since_log = tokens, 0.0
        if "eval_loss" in logs:
            values["validation_loss"] = logs["eval_loss"]
        values.update({name: logs[key] for key, name in PREFERENCE_LOGS.items() if key in logs})
        self.report_metrics(state.global_step, {k: v for k, v in values.items() if v is not None})
