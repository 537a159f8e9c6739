"""`python -m core dataset ...`: fine-tuning datasets from the command line.

Scripts can rely on the output: a build prints one summary line on stdout (skips, progress and
possible leaks go to stderr), `list` prints one tab-separated line per dataset, and `--json`
prints the rows as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.errors import InvalidInputError
from core.finetune import builders, git_history
from core.finetune.datasets import (DEFAULT_VALIDATION_FRACTION, check_validation_fraction, get_dataset,
                                    list_datasets, read_split, remove_dataset)
from core.finetune.formats import shown_messages
from core.finetune.kb_dataset_job import submit_kb_dataset
from core.finetune.preferences import build_preferences
from core.jobs.commands import follow
from core.llm.defaults import DEFAULT_MODEL
from core.paths import operator_paths
from core.store import current_database
from core.store.tables import FineTuneDataset
from core.subcommands import add_command

PREVIEW_CHARS = 300  # per message in `show`'s text output


def register(subparsers) -> None:
    dataset = subparsers.add_parser("dataset", help="fine-tuning datasets (the Fine-tune page)")
    commands = dataset.add_subparsers(dest="dataset_command", metavar="COMMAND", required=True)
    imported = _builder(commands, "import", "import a JSONL file (alpaca, messages or prompt/completion)", run_import)
    imported.add_argument("file", metavar="FILE")
    git = _builder(commands, "from-git", "examples from a repository's commits: message -> diff", run_from_git)
    git.add_argument("repo", metavar="REPO")
    git.add_argument("--rev", default="HEAD", help="the revision whose history is read (default: HEAD)")
    git.add_argument("--max-diff-chars", type=int, default=git_history.DEFAULT_MAX_DIFF_CHARS, metavar="N",
                     help="skip commits whose diff is longer")
    git.add_argument("--max-commits", type=int, default=git_history.DEFAULT_MAX_COMMITS, metavar="N",
                     help="read at most the N newest commits")
    kb = _builder(commands, "from-kb", "question/answer pairs a system writes from a knowledge base, as a background "
                  "job followed to its end", run_from_kb)
    kb.add_argument("kb", metavar="KB")
    kb.add_argument("--system", required=True, metavar="SPEC", help="who writes the pairs, e.g. local or anthropic")
    kb.add_argument("--limit", type=int, default=20, metavar="N", help="ask about at most N chunks")
    kb.add_argument("--pairs-per-chunk", type=int, default=3, metavar="N")
    preferences = add_command(commands, "preferences", "preference pairs for DPO from labelled answers: a question's "
                              "answer labelled correct (chosen) over one labelled wrong (rejected)", run_preferences)
    preferences.add_argument("name", help="the new dataset's name")
    preferences.add_argument("--run", dest="runs", type=int, action="append", metavar="ID",
                             help="read this eval run's labels (repeat for more; default: every run)")
    _split_options(preferences)
    listing = add_command(commands, "list", "list datasets", run_list)
    listing.add_argument("--json", action="store_true", help="print the datasets as JSON")
    show = add_command(commands, "show", "a dataset's details, statistics and leakage report", run_show)
    show.add_argument("name")
    show.add_argument("--json", action="store_true", help="print the dataset as JSON")
    show.add_argument("--examples", type=int, default=0, metavar="N", help="also print the first N train examples")
    remove = add_command(commands, "remove", "delete a dataset and its files", run_remove)
    remove.add_argument("name")


def _builder(commands, name: str, help_text: str, run) -> argparse.ArgumentParser:
    """A command that builds a dataset: the options every way of building shares."""
    parser = add_command(commands, name, help_text, run)
    parser.add_argument("--name", required=True, help="the new dataset's name")
    _split_options(parser)
    return parser


def _split_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--validation-fraction", type=float, default=DEFAULT_VALIDATION_FRACTION, metavar="F")
    parser.add_argument("--seed", type=int, default=0, help="the train/validation split's seed")
    parser.add_argument("--base", default=DEFAULT_MODEL, help="the base model whose tokens measure lengths")


@operator_paths()  # the file is read here, in the operator's shell
def run_import(args: argparse.Namespace) -> int:
    return _report(builders.import_jsonl(current_database(), args.name, Path(args.file), split=_split(args),
                                         actor=args.actor))


@operator_paths()
def run_from_git(args: argparse.Namespace) -> int:
    row, skipped = builders.from_git(current_database(), args.name, args.repo, args.rev, args.max_diff_chars,
                                     args.max_commits, split=_split(args), actor=args.actor)
    for reason, count in skipped.items():
        print(f"skipped {count} commit(s): {reason}", file=sys.stderr)
    return _report(row)


def run_from_kb(args: argparse.Namespace) -> int:
    db = current_database()
    job = follow(submit_kb_dataset(db, args.name, args.kb, args.system, args.limit, args.pairs_per_chunk,
                                   _split(args), actor=args.actor).id, f"writing {args.name}")
    if job is None:
        return 1
    if job.result["bad_replies"] or job.result["dropped_pairs"]:
        print(f"unusable: {job.result['bad_replies']} reply(ies), {job.result['dropped_pairs']} pair(s)",
              file=sys.stderr)
    return _report(get_dataset(db, job.result["dataset"]))


def run_preferences(args: argparse.Namespace) -> int:
    return _report(build_preferences(current_database(), args.name, args.runs, split=_split(args), actor=args.actor))


def run_list(args: argparse.Namespace) -> int:
    rows = list_datasets(current_database())
    if args.json:
        print(json.dumps([row.model_dump(mode="json") for row in rows], indent=2))
        return 0
    for row in rows:
        print(f"{row.name}\t{row.source}\t{row.source_format}\t{row.train_count} train\t"
              f"{row.validation_count} validation\t{len(row.details.get('leakage', []))} possible leak(s)\t"
              f"{row.created_at:%Y-%m-%d %H:%M}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    if args.examples < 0:
        raise InvalidInputError("--examples must be 0 or more.")
    row = get_dataset(current_database(), args.name)
    examples = read_split(row, "train")[:args.examples] if args.examples else []
    if args.json:
        shown = {**row.model_dump(mode="json"), **({"examples": examples} if args.examples else {})}
        print(json.dumps(shown, indent=2))
        return 0
    print(describe(row))
    for number, example in enumerate(examples, start=1):
        print(f"\n--- example {number}" + (f" ({example['source']})" if example.get("source") else ""))
        for heading, content in shown_messages(example):
            print(f"{heading}: {content[:PREVIEW_CHARS]}" + ("..." if len(content) > PREVIEW_CHARS else ""))
    return 0


def run_remove(args: argparse.Namespace) -> int:
    remove_dataset(current_database(), args.name, actor=args.actor)
    print(f"removed {args.name}")
    return 0


def describe(row: FineTuneDataset) -> str:
    """A dataset's row as lines a person reads."""
    built = ", ".join(f"{key}={value}" for key, value in row.details.items()
                      if key not in ("token_lengths", "leakage", "skipped"))
    lengths = row.details.get("token_lengths", {})
    stats = ", ".join(f"{key} {value}" for key, value in lengths.items() if key != "base")
    leaks = row.details.get("leakage", [])
    lines = [f"name: {row.name}", f"source: {row.source} ({row.source_format})", f"folder: {row.folder}",
             f"examples: {row.train_count} train, {row.validation_count} validation", f"built from: {built}",
             f"tokens ({lengths.get('base', '?')}): {stats}", f"possible leaks: {len(leaks)}"]
    lines += [f"  {_leak_line(leak)}" for leak in leaks]
    lines.append(f"created: {row.created_at:%Y-%m-%d %H:%M}")
    return "\n".join(lines)


def _split(args: argparse.Namespace) -> builders.Split:
    return builders.Split(check_validation_fraction(args.validation_fraction), args.seed, args.base)


def _report(row: FineTuneDataset) -> int:
    lengths, leaks = row.details["token_lengths"], row.details["leakage"]
    for leak in leaks:
        print(f"possible leak: {_leak_line(leak)}", file=sys.stderr)
    print(f"{row.name}: {row.train_count} train / {row.validation_count} validation example(s) "
          f"({row.source_format}); tokens p50 {lengths['p50']}, p90 {lengths['p90']}, max {lengths['max']}; "
          f"{len(leaks)} possible leak(s)")
    return 0


def _leak_line(leak: dict) -> str:
    return (f"{leak['split']}[{leak['example']}] ~ {leak['question_source']} (similarity {leak['similarity']}): "
            f"{leak['eval_question']}")
