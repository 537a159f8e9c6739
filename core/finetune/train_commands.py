"""`python -m core train DATASET`, `python -m core train sweep|sweeps|sweep-show ...` and
`python -m core adapter ...`."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, fields

from core.finetune.adapters import remove_adapter
from core.llm.adapters import list_adapters
from core.finetune.config import DEFAULT_LEARNING_RATES, METHODS, TrainingConfig
from core.finetune.job import submit_training
from core.finetune.merge_job import submit_merge
from core.finetune.sweep import SEED_LEARNING_RATES, SEED_RANKS, SweepPlan, submit_sweep, sweep_table, sweep_tables
from core.finetune.views import sweep_lines
from core.jobs import queue
from core.jobs.commands import follow, wait_for
from core.store import current_database
from core.store.tables import utc_now
from core.subcommands import add_command

_DEFAULTS = {f.name: f.default for f in fields(TrainingConfig) if f.name not in ("dataset", "adapter_name")}


SWEEP_COMMANDS = {"sweep": "train one adapter per learning rate x rank (alpha = 2 x rank), each named "
                  "NAME-lrX-rY, queued at once; with --eval-set each is evaluated once trained; prints the job ids",
                  "sweeps": "list sweeps: members, how many trained, the best so far",
                  "sweep-show": "a sweep's table: one row per member, the best marked"}


class _TrainCommand(argparse.Action):
    """`train DATASET ...` trains one adapter; `train sweep ...`, `train sweeps` and `train sweep-show ...` are
    the sweep commands. The words after `train` go to the parser the first one names, else to the one adapter's
    (argparse's subcommands cannot fall back to a positional argument, so the choice is made here)."""

    def __init__(self, option_strings, dest, parsers: dict[str, argparse.ArgumentParser], **kwargs):
        super().__init__(option_strings, dest, nargs=argparse.REMAINDER, **kwargs)
        self.parsers = parsers

    def __call__(self, parser, namespace, values, option_string=None):
        if not values:
            parser.error("the following arguments are required: DATASET (or sweep, sweeps, sweep-show)")
        chosen = self.parsers.get(values[0])
        if chosen is None:
            self.parsers["DATASET"].parse_args(values, namespace)
        else:
            chosen.parse_args(values[1:], namespace)


def register(subparsers) -> None:
    train = subparsers.add_parser("train", help="fine-tune a LoRA adapter on a dataset as a background job "
                                  "(prints the job id), or a sweep of them (`train sweep --help`)")
    parsers = {"DATASET": _one_adapter(train.prog), **_sweep_commands(train.prog)}
    train.add_argument("train_command", action=_TrainCommand, parsers=parsers,
                       metavar="DATASET | sweep | sweeps | sweep-show",
                       help="a dataset to train one adapter on (`train DATASET --help`), or a sweep command: "
                            + "; ".join(f"{name}: {text}" for name, text in SWEEP_COMMANDS.items()))
    adapter = subparsers.add_parser("adapter", help="trained LoRA adapters")
    commands = adapter.add_subparsers(dest="adapter_command", metavar="COMMAND", required=True)
    listing = add_command(commands, "list", "list registered adapters", run_adapter_list)
    listing.add_argument("--json", action="store_true")
    merge = add_command(commands, "merge", "merge an adapter into its base model as a background job, wait for it, "
                        "print the folder", run_merge)
    merge.add_argument("name")
    remove = add_command(commands, "remove", "delete an adapter", run_adapter_remove)
    remove.add_argument("name")


def _one_adapter(prog: str) -> argparse.ArgumentParser:
    one = argparse.ArgumentParser(prog=prog, description="fine-tune a LoRA adapter on a dataset as a background job; "
                                  "prints the job id")
    one.set_defaults(run=run_train)
    one.add_argument("dataset", help="a dataset name (`python -m core dataset list`)")
    one.add_argument("--name", help="the adapter's name (default: DATASET-YYYYmmdd-HHMMSS)")
    one.add_argument("--lr", type=float, help=f"learning rate (default: {DEFAULT_LEARNING_RATES['sft']} for sft, "
                     f"{DEFAULT_LEARNING_RATES['dpo']} for dpo)")
    one.add_argument("--lora-r", type=int, default=_DEFAULTS["lora_r"])
    _training_options(one)
    one.add_argument("--wait", action="store_true", help="follow the job; exit 0 only when it succeeded (1 otherwise)")
    return one


def _sweep_commands(prog: str) -> dict[str, argparse.ArgumentParser]:
    parsers = {name: argparse.ArgumentParser(prog=f"{prog} {name}", description=text)
               for name, text in SWEEP_COMMANDS.items()}
    sweep = parsers["sweep"]
    sweep.set_defaults(run=run_sweep)
    sweep.add_argument("dataset", help="a dataset name (`python -m core dataset list`)")
    sweep.add_argument("--name", required=True, help="the sweep's name, the start of its adapters' names")
    sweep.add_argument("--lr", type=float, action="append", metavar="LR", help="a learning rate, repeated for "
                       f"several (default: {' '.join(map(str, SEED_LEARNING_RATES))})")
    sweep.add_argument("--rank", type=int, action="append", metavar="R",
                       help=f"a LoRA rank, repeated for several (default: {' '.join(map(str, SEED_RANKS))})")
    sweep.add_argument("--eval-set", metavar="SET", help="evaluate each adapter on this eval set once it is trained")
    sweep.add_argument("--metric", help="what grades the eval (default: the first headline metric the set allows)")
    _training_options(sweep)
    parsers["sweeps"].set_defaults(run=run_sweeps)
    parsers["sweeps"].add_argument("--json", action="store_true", help="print every sweep's table as JSON")
    parsers["sweep-show"].set_defaults(run=run_sweep_show)
    parsers["sweep-show"].add_argument("name")
    parsers["sweep-show"].add_argument("--json", action="store_true")
    return parsers


def _training_options(parser: argparse.ArgumentParser) -> None:
    """The training settings one adapter and a sweep share (a sweep's grid sets learning rate and rank)."""
    parser.add_argument("--base", default=_DEFAULTS["base_model"], help="base model: smollm2, or a local model folder")
    parser.add_argument("--method", choices=METHODS, default="sft",
                        help="sft on chats, or dpo on a preferences dataset (`dataset preferences`)")
    parser.add_argument("--beta", type=float, default=_DEFAULTS["beta"],
                        help="DPO: how close the adapter stays to the base (higher: closer)")
    parser.add_argument("--qlora", action="store_true", help="4-bit NF4 base weights (bitsandbytes), CPU or CUDA")
    parser.add_argument("--max-steps", type=int, default=0, metavar="N", help="stop after N steps (overrides --epochs)")
    parser.add_argument("--epochs", type=float, default=_DEFAULTS["epochs"])
    parser.add_argument("--batch-size", type=int, default=_DEFAULTS["batch_size"])
    parser.add_argument("--max-length", type=int, default=_DEFAULTS["max_seq_length"], help="max sequence tokens")
    parser.add_argument("--eval-every", type=int, default=_DEFAULTS["eval_every"], metavar="N")
    parser.add_argument("--checkpoint-every", type=int, default=_DEFAULTS["checkpoint_every"], metavar="N")
    parser.add_argument("--precision", default="auto", help="auto, bf16, fp16 or fp32")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--seed", type=int, default=0)


def run_train(args: argparse.Namespace) -> int:
    learning_rate = DEFAULT_LEARNING_RATES[args.method] if args.lr is None else args.lr
    config = _training_config(args, args.name or f"{args.dataset}-{utc_now():%Y%m%d-%H%M%S}", learning_rate,
                              args.lora_r)
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


def _training_config(args: argparse.Namespace, adapter_name: str, learning_rate: float, rank: int) -> TrainingConfig:
    return TrainingConfig(
        dataset=args.dataset, adapter_name=adapter_name, method=args.method, beta=args.beta, base_model=args.base,
        qlora=args.qlora,
        max_steps=args.max_steps, epochs=args.epochs, learning_rate=learning_rate, batch_size=args.batch_size,
        max_seq_length=args.max_length, lora_r=rank, lora_alpha=2 * rank, eval_every=args.eval_every,
        checkpoint_every=args.checkpoint_every, precision=args.precision, device=args.device, seed=args.seed)


def run_sweep(args: argparse.Namespace) -> int:
    learning_rates, ranks = args.lr or SEED_LEARNING_RATES, args.rank or SEED_RANKS
    plan = SweepPlan(args.name, _training_config(args, args.name, learning_rates[0], ranks[0]), learning_rates, ranks,
                     args.eval_set, args.metric)
    for job in submit_sweep(current_database(), plan, args.actor):
        print(job.id, flush=True)
    return 0


def run_sweeps(args: argparse.Namespace) -> int:
    tables = sweep_tables(current_database())
    if args.json:
        print(json.dumps([asdict(table) for table in tables], indent=2))
        return 0
    for table in tables:
        trained = sum(member.status == queue.SUCCEEDED for member in table.members)
        best = f"best {table.best.adapter} by {table.best_by}" if table.best else "no best yet"
        print(f"{table.name}\t{table.dataset}\t{table.base_model}\t{trained}/{len(table.members)} trained\t{best}")
    return 0


def run_sweep_show(args: argparse.Namespace) -> int:
    table = sweep_table(current_database(), args.name)
    print(json.dumps(asdict(table), indent=2) if args.json else "\n".join(sweep_lines(table)))
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
