"""`python -m core train DATASET` and `python -m core adapter ...`."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields

from core.finetune.adapters import remove_adapter
from core.llm.adapters import list_adapters
from core.finetune.config import DEFAULT_LEARNING_RATES, METHODS, TrainingConfig
from core.finetune.job import submit_training
from core.finetune.merge_job import submit_merge
from core.jobs import queue
from core.jobs.commands import follow, wait_for
from core.store import current_database
from core.store.tables import utc_now
from core.subcommands import add_command

_DEFAULTS = {f.name: f.default for f in fields(TrainingConfig) if f.name not in ("dataset", "adapter_name")}


def register(subparsers) -> None:
    train = add_command(subparsers, "train", "fine-tune a LoRA adapter on a dataset as a background job; "
                        "prints the job id", run_train)
    train.add_argument("dataset", help="a dataset name (`python -m core dataset list`)")
    train.add_argument("--name", help="the adapter's name (default: DATASET-YYYYmmdd-HHMMSS)")
    train.add_argument("--base", default=_DEFAULTS["base_model"], help="base model: smollm2, or a local model folder")
    train.add_argument("--method", choices=METHODS, default="sft",
                       help="sft on chats, or dpo on a preferences dataset (`dataset preferences`)")
    train.add_argument("--beta", type=float, default=_DEFAULTS["beta"],
                       help="DPO: how close the adapter stays to the base (higher: closer)")
    train.add_argument("--qlora", action="store_true", help="4-bit NF4 base weights (bitsandbytes), CPU or CUDA")
    train.add_argument("--max-steps", type=int, default=0, metavar="N", help="stop after N steps (overrides --epochs)")
    train.add_argument("--epochs", type=float, default=_DEFAULTS["epochs"])
    train.add_argument("--lr", type=float, help=f"learning rate (default: {DEFAULT_LEARNING_RATES['sft']} for sft, "
                       f"{DEFAULT_LEARNING_RATES['dpo']} for dpo)")
    train.add_argument("--batch-size", type=int, default=_DEFAULTS["batch_size"])
    train.add_argument("--max-length", type=int, default=_DEFAULTS["max_seq_length"], help="max sequence tokens")
    train.add_argument("--lora-r", type=int, default=_DEFAULTS["lora_r"])
    train.add_argument("--eval-every", type=int, default=_DEFAULTS["eval_every"], metavar="N")
    train.add_argument("--checkpoint-every", type=int, default=_DEFAULTS["checkpoint_every"], metavar="N")
    train.add_argument("--precision", default="auto", help="auto, bf16, fp16 or fp32")
    train.add_argument("--device", default="auto", help="auto, cpu or cuda")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--wait", action="store_true",
                       help="follow the job; exit 0 only when it succeeded (1 otherwise)")
    adapter = subparsers.add_parser("adapter", help="trained LoRA adapters")
    commands = adapter.add_subparsers(dest="adapter_command", metavar="COMMAND", required=True)
    listing = add_command(commands, "list", "list registered adapters", run_adapter_list)
    listing.add_argument("--json", action="store_true")
    merge = add_command(commands, "merge", "merge an adapter into its base model as a background job, wait for it, "
                        "print the folder", run_merge)
    merge.add_argument("name")
    remove = add_command(commands, "remove", "delete an adapter", run_adapter_remove)
    remove.add_argument("name")


def run_train(args: argparse.Namespace) -> int:
    config = TrainingConfig(
        dataset=args.dataset, adapter_name=args.name or f"{args.dataset}-{utc_now():%Y%m%d-%H%M%S}",
        method=args.method, beta=args.beta, base_model=args.base, qlora=args.qlora, max_steps=args.max_steps,
        epochs=args.epochs, learning_rate=DEFAULT_LEARNING_RATES[args.method] if args.lr is None else args.lr,
        batch_size=args.batch_size, max_seq_length=args.max_length, lora_r=args.lora_r,
        lora_alpha=2 * args.lora_r, eval_every=args.eval_every, checkpoint_every=args.checkpoint_every,
        precision=args.precision, device=args.device, seed=args.seed)
    job = submit_training(current_database(), config, args.actor)
    print(job.id, flush=True)
    if not args.wait:
        return 0
    job = wait_for(job.id)
    if job.status != queue.SUCCEEDED:
        print(f"job {job.id} {job.status}" + (f": {job.error}" if job.error else ""), file=sys.stderr)
        return 1
    print(f"adapter {job.result.get('adapter')}", file=sys.stderr)
    return 0


def run_adapter_list(args: argparse.Namespace) -> int:
    rows = list_adapters(current_database())
    if args.json:
        print(json.dumps([row.model_dump(mode="json") for row in rows], indent=2))
        return 0
    for row in rows:
        loss = "-" if row.final_validation_loss is None else f"{row.final_validation_loss:.4f}"
        print(f"{row.name}\t{row.base_model}\t{row.dataset}\tval_loss={loss}\t{row.size_bytes / 1e6:.1f} MB\t"
              f"{row.train_seconds:.0f} s\t${row.cost_usd:.4f}\t{row.path}")
    return 0


def run_merge(args: argparse.Namespace) -> int:
    job = follow(submit_merge(current_database(), args.name, actor=args.actor).id, f"merging {args.name}")
    if job is None:
        return 1
    print(job.result["merged_path"])
    return 0


def run_adapter_remove(args: argparse.Namespace) -> int:
    remove_adapter(current_database(), args.name, args.actor)
    print(f"removed {args.name}")
    return 0
