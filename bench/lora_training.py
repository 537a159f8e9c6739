"""LoRA training speed: is our trainer as fast as the plain ways to train the same adapter?

Measures training tokens/s and peak memory for SmolLM2-135M-Instruct, LoRA r=16 alpha=32 on
q/k/v/o, lr 2e-4, batch 8 x 256 tokens (every example is cut to exactly 256 tokens, so every
variant processes the same tokens), for:
- ours: `core.finetune.trainer.train` with a `TrainingConfig` of the above (precision "auto");
- transformers' `Trainer`, float32 and bf16;
- a bare PyTorch loop, float32 and under `torch.autocast("cpu", dtype=torch.bfloat16)`;
- trl's `SFTTrainer` with its defaults for everything the shared config does not set.

Each variant runs in its own subprocess (its own peak RSS, its own OpenMP threads). Tokens/s is
the median over the timed steps of non-padding tokens / step time; warm-up steps are not timed.
Ours masks the prompt from the loss but still processes it; the Trainer and bare-loop variants
mask it too. Target (issue 7): ours >= 1.0x Trainer bf16. Prints a table and writes
bench/results/lora_training.json.

    python bench/lora_training.py [--steps 10] [--warmup 3] [--model PATH] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path

from transformers import TrainerCallback

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SAMPLES = ROOT / "core" / "finetune" / "samples" / "house-style.jsonl"
RESULTS = ROOT / "bench" / "results"
ANSWER_REPEATS = 8  # the sample answers are 36-75 tokens: 8 of them push every conversation past 256
BASELINE = "trainer-bf16"
TARGET = 1.0

# name -> (precision label, runner name, bf16); runners are looked up in the child process
VARIANTS = {
    "ours": ("auto (bf16)", "run_ours", None),
    "trainer-fp32": ("fp32", "run_trainer", False),
    "trainer-bf16": ("bf16", "run_trainer", True),
    "bare-loop-fp32": ("fp32", "run_bare_loop", False),
    "bare-loop-bf16": ("bf16 autocast", "run_bare_loop", True),
    "sft-defaults": ("bf16 (default)", "run_sft_defaults", None),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10, help="timed steps per variant")
    parser.add_argument("--warmup", type=int, default=3, help="steps run first and not timed")
    parser.add_argument("--model", default="smollm2", help="base model: smollm2 or a model folder")
    parser.add_argument("--quick", action="store_true", help="smoke check: 1 warm-up step, 2 timed steps")
    parser.add_argument("--threads", type=int, help="torch CPU threads per variant (default: torch's own); on a "
                        "busy machine 1 is steadier, since every parallel step waits for its slowest thread")
    parser.add_argument("--only", nargs="+", choices=list(VARIANTS), help="run these variants only")
    parser.add_argument("--child", choices=list(VARIANTS), help=argparse.SUPPRESS)
    parser.add_argument("--child-out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.steps, args.warmup = 2, 1
    if args.child:
        return run_child(args)
    started_at, load_before = datetime.now(timezone.utc), os.getloadavg()
    rows = [spawn(name, args) for name in (args.only or VARIANTS)]
    add_ratios(rows)
    report = {"date": started_at.isoformat(timespec="seconds"), "machine": machine(load_before),
              "config": {"model": args.model, "batch_size": 8, "seq_length": 256, "lora_r": 16, "lora_alpha": 32,
                         "targets": ["q_proj", "k_proj", "v_proj", "o_proj"], "learning_rate": 2e-4,
                         "warmup_steps": args.warmup, "timed_steps": args.steps, "threads": args.threads},
              "variants": rows, "target": verdict(rows)}
    print_table(report)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "lora_training.json"
    out.write_text(json.dumps(report, indent=2))
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


def spawn(name: str, args: argparse.Namespace) -> dict:
    """One variant in a fresh Python process; its JSON comes back through a file."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        command = [sys.executable, __file__, "--child", name, "--child-out", str(out), "--steps", str(args.steps),
                   "--warmup", str(args.warmup), "--model", args.model]
        if args.threads:
            command += ["--threads", str(args.threads)]
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
        print(f"running {name} ...", flush=True)
        began = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
        wall = time.perf_counter() - began
        if done.returncode or not out.is_file():
            return {"variant": name, "error": (done.stderr or done.stdout)[-3000:], "wall_s": wall}
        return {**json.loads(out.read_text()), "wall_s": round(wall, 1)}


def run_child(args: argparse.Namespace) -> int:
    import torch

    from core.finetune.config import TrainingConfig

    if args.threads:
        torch.set_num_threads(args.threads)
    config = TrainingConfig(
        dataset="bench", adapter_name="bench", base_model=args.model, max_steps=args.warmup + args.steps,
        batch_size=8, max_seq_length=256, lora_r=16, lora_alpha=32, learning_rate=2e-4,
        eval_every=10_000, checkpoint_every=10_000, device="cpu", precision="auto")
    precision, runner, bf16 = VARIANTS[args.child]
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        rates, details = globals()[runner](config, Path(tmp), *([] if bf16 is None else [bf16]))
    timed = rates[args.warmup:]
    result = {"variant": args.child, "precision": precision, "tokens_per_s": round(statistics.median(timed), 1),
              "timed_tokens_per_s": [round(r, 1) for r in timed],
              "warmup_tokens_per_s": [round(r, 1) for r in rates[:args.warmup]],
              "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
              "torch_threads": torch.get_num_threads(), "load_average_before": load_before,
              "load_average_after": os.getloadavg(), **details}
    Path(args.child_out).write_text(json.dumps(result))
    return 0


# --- the variants: each returns (tokens/s per step, warm-up included; details) ---

def run_ours(config, tmp: Path) -> tuple[list[float], dict]:
    from core.finetune.trainer import train

    by_step: dict[int, float] = {}

    def report(step: int, values: dict) -> None:
        if "tokens_per_s" in values:
            by_step[step] = values["tokens_per_s"]

    _, outcome = train(config, examples(config), [], tmp / "checkpoints", report, lambda *_: None, lambda: False)
    rates = [by_step[step] for step in sorted(by_step)]
    return rates, {"train_seconds": round(outcome.train_seconds, 1), "tokens_seen": outcome.tokens_seen,
                   "truncated_examples": outcome.truncated_examples, "examples": config.max_steps * config.batch_size}


def run_trainer(config, tmp: Path, bf16: bool) -> tuple[list[float], dict]:
    from transformers import Trainer, TrainingArguments, default_data_collator

    model, tokenizer = load(config)
    timer = StepTimer()
    trainer = Trainer(model=with_lora(model, config), train_dataset=tokenised(tokenizer, config),
                      data_collator=default_data_collator, callbacks=[timer],
                      args=TrainingArguments(bf16=bf16, **shared_arguments(config, tmp)))
    trainer.train()
    return timer.rates(), {"train_seconds": round(sum(timer.seconds), 1)}


def run_bare_loop(config, tmp: Path, bf16: bool) -> tuple[list[float], dict]:
    import torch
    from transformers import default_data_collator

    model, tokenizer = load(config)
    model = with_lora(model, config).train()
    rows = tokenised(tokenizer, config)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=config.learning_rate)
    rates, seconds = [], []
    for start in range(0, len(rows), config.batch_size):
        batch = default_data_collator(rows[start:start + config.batch_size])
        began = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        seconds.append(time.perf_counter() - began)
        rates.append(int(batch["attention_mask"].sum()) / seconds[-1])
    return rates, {"train_seconds": round(sum(seconds), 1)}


def run_sft_defaults(config, tmp: Path) -> tuple[list[float], dict]:
    """trl as its docs show it: a messages dataset, SFTConfig's defaults (bf16, gradient checkpointing,
    loss on every token, entropy and accuracy metrics) except for the shared config."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    model, tokenizer = load(config)
    timer = StepTimer()
    trainer = SFTTrainer(model=model, train_dataset=Dataset.from_list(examples(config)), processing_class=tokenizer,
                         peft_config=lora_config(config), callbacks=[timer],
                         args=SFTConfig(max_length=config.max_seq_length, **shared_arguments(config, tmp)))
    trainer.train()
    return timer.rates(), {"train_seconds": round(sum(timer.seconds), 1)}


# --- what the variants share ---

def examples(config) -> list[dict]:
    """The house-style samples, each answer repeated so the conversation passes max_seq_length; cycled
    to fill every step's batch."""
    samples = [json.loads(line) for line in SAMPLES.read_text().splitlines() if line.strip()]
    rows = []
    for i in range(config.max_steps * config.batch_size):
        *prompt, answer = samples[i % len(samples)]["messages"]
        rows.append({"messages": [*prompt, {**answer, "content": "\n\n".join([answer["content"]] * ANSWER_REPEATS)}]})
    return rows


def tokenised(tokenizer, config) -> list[dict]:
    """input_ids / attention_mask / labels cut to exactly max_seq_length, the prompt masked from the loss."""
    import torch

    rows, length = [], config.max_seq_length
    for example in examples(config):
        prompt = tokenizer.apply_chat_template(example["messages"][:-1], add_generation_prompt=True, tokenize=False)
        full = tokenizer.apply_chat_template(example["messages"], tokenize=False)
        ids = tokenizer(full, add_special_tokens=False)["input_ids"]
        if len(ids) < length:
            raise SystemExit(f"an example has {len(ids)} tokens, fewer than {length}: raise ANSWER_REPEATS")
        ids = torch.tensor(ids[:length])
        labels = ids.clone()
        labels[:len(tokenizer(prompt, add_special_tokens=False)["input_ids"])] = -100
        rows.append({"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels})
    return rows


def load(config):
    """The base model and tokenizer through the same loader path our trainer uses."""
    from core.finetune.trainer import load_for_training

    return load_for_training(config, "cpu")


def lora_config(config):
    from peft import LoraConfig

    return LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                      target_modules=list(config.target_modules), task_type="CAUSAL_LM")


def with_lora(model, config):
    from peft import get_peft_model

    return get_peft_model(model, lora_config(config))


def shared_arguments(config, tmp: Path) -> dict:
    """The TrainingArguments every Trainer-based baseline shares; token counting as ours does it."""
    return dict(output_dir=str(tmp), per_device_train_batch_size=config.batch_size, max_steps=config.max_steps,
                learning_rate=config.learning_rate, use_cpu=True, report_to=[], save_strategy="no",
                disable_tqdm=True, dataloader_num_workers=0, include_num_input_tokens_seen="non_padding")


class StepTimer(TrainerCallback):
    """Times each optimizer step as our MetricsCallback does: on_step_begin to on_step_end."""

    def __init__(self):
        self.seconds: list[float] = []
        self.tokens: list[int] = []

    def on_step_begin(self, args, state, control, **kwargs):
        self._began, self._seen = time.perf_counter(), state.num_input_tokens_seen

    def on_step_end(self, args, state, control, **kwargs):
        self.seconds.append(time.perf_counter() - self._began)
        self.tokens.append(state.num_input_tokens_seen - self._seen)

    def rates(self) -> list[float]:
        return [tokens / seconds for tokens, seconds in zip(self.tokens, self.seconds)]


# --- the report ---

def add_ratios(rows: list[dict]) -> None:
    baseline = next((r.get("tokens_per_s") for r in rows if r["variant"] == BASELINE), None)
    for row in rows:
        if baseline and "tokens_per_s" in row:
            row["vs_trainer_bf16"] = round(row["tokens_per_s"] / baseline, 2)


def verdict(rows: list[dict]) -> dict:
    ours = next((r for r in rows if r["variant"] == "ours"), {})
    ratio = ours.get("vs_trainer_bf16")
    return {"ours_vs_trainer_bf16": ratio, "target": TARGET, "met": None if ratio is None else ratio >= TARGET}


def machine(load_before) -> dict:
    import torch

    return {"platform": platform.platform(), "cpus": os.cpu_count(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(), "torch_threads": torch.get_num_threads(),
            "versions": {name: version(name) for name in ("torch", "transformers", "trl", "peft", "accelerate")},
            # other work on the machine slows every number down (much more with 2 cores)
            "load_average_1_5_15_min_start": load_before, "load_average_1_5_15_min_end": os.getloadavg()}


def print_table(report: dict) -> None:
    print(f"\n{'variant':<16}{'precision':<16}{'tokens/s':>9}{'vs bf16 Trainer':>17}{'peak RSS GB':>13}"
          f"{'train s':>9}{'wall s':>8}")
    for r in report["variants"]:
        if "error" in r:
            print(f"{r['variant']:<16}failed after {r['wall_s']:.0f} s:\n{r['error']}")
            continue
        ratio = f"{r['vs_trainer_bf16']:.2f}x" if "vs_trainer_bf16" in r else "-"
        print(f"{r['variant']:<16}{r['precision']:<16}{r['tokens_per_s']:>9.1f}{ratio:>17}{r['peak_rss_gb']:>13.2f}"
              f"{r['train_seconds']:>9.1f}{r['wall_s']:>8.1f}")
    target, config = report["target"], report["config"]
    status = "n/a" if target["met"] is None else ("PASS" if target["met"] else "MISS")
    shown = "-" if target["ours_vs_trainer_bf16"] is None else f"{target['ours_vs_trainer_bf16']:.2f}x"
    print(f"\nours vs Trainer bf16: {shown} (target >= {TARGET:.1f}x)  {status}")
    print(f"median of {config['timed_steps']} timed steps after {config['warmup_steps']} warm-up; batch 8 x 256; "
          f"load average {report['machine']['load_average_1_5_15_min_end']}")


if __name__ == "__main__":
    sys.exit(main())
