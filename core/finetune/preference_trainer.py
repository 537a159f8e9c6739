"""DPO on preference pairs: trl's DPOTrainer over the same base, LoRA, arguments and callback as SFT.

DPO raises the likelihood of each chosen answer over its rejected one, measured against a reference
model. With LoRA the reference is the base itself with the adapter switched off (trl does this when
it makes the peft model from our LoRA config), so no second copy of the model is loaded. trl logs
the loss and its rewards, which `trainer.MetricsCallback` reports like SFT's.
"""

from __future__ import annotations

from typing import Any, Sequence

from transformers import TrainerCallback

from core.finetune.config import TrainingConfig
from core.finetune.trainer import lora_config, prompts_and_answers

ANSWERS = ("chosen", "rejected")


def dpo_trainer(config: TrainingConfig, model: Any, tokenizer: Any, train_pairs: Sequence[dict],
                validation_pairs: Sequence[dict], settings: dict[str, Any], callback: TrainerCallback):
    """trl's DPOTrainer on the pairs, and how many pairs have an answer cut to fit max_seq_length."""
    from trl import DPOConfig, DPOTrainer

    truncated = cut_pairs(tokenizer, [*train_pairs, *validation_pairs], config.max_seq_length)
    arguments = DPOConfig(**settings, beta=config.beta, max_length=config.max_seq_length,
                          gradient_checkpointing=False)  # trl turns it on by default: slower, and no memory to save
    trainer = DPOTrainer(model=model, args=arguments, train_dataset=_dataset(train_pairs),
                         eval_dataset=_dataset(validation_pairs) if validation_pairs else None,
                         processing_class=tokenizer, callbacks=[callback], peft_config=lora_config(config))
    return trainer, truncated


def cut_pairs(tokenizer: Any, pairs: Sequence[dict], max_length: int) -> int:
    """How many pairs have an answer longer than fits after the prompt (trl keeps the start of each);
    pairs whose prompt alone fills `max_length` are refused, as in SFT."""
    conversations = [[*pair["prompt"], *pair[answer]] for pair in pairs for answer in ANSWERS]
    split = prompts_and_answers(tokenizer, conversations, max_length)
    lengths = [len(prompt) + len(answer) for prompt, answer in split]
    return sum(max(lengths[i:i + len(ANSWERS)]) > max_length for i in range(0, len(lengths), len(ANSWERS)))


def _dataset(pairs: Sequence[dict]) -> Any:
    from datasets import Dataset

    return Dataset.from_list([{key: pair[key] for key in ("prompt", *ANSWERS)} for pair in pairs])
