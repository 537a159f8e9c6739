"""`python -m core evalset ...`: golden eval sets from the command line; `python -m core demo`
sets up a shipped demo (in a background job, followed to its end).

`list` prints one tab-separated line per set; `--json` prints rows as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys

from core.evaluation.demo import DEFAULT_DEMO, DEMOS
from core.evaluation.paraphrase import DEFAULT_LIMIT, paraphrase_eval_sets
from core.evaluation.sets import eval_items, get_eval_set, import_eval_file, list_eval_sets, remove_eval_set
from core.paths import operator_paths
from core.store import current_database
from core.subcommands import add_command


def register(subparsers) -> None:
    evalset = subparsers.add_parser("evalset", help="golden eval sets (JSONL, see eval_sets/README.md)")
    commands = evalset.add_subparsers(dest="evalset_command", metavar="COMMAND", required=True)
    imported = add_command(commands, "import", "check a JSONL eval set and keep it in the store", run_import)
    imported.add_argument("file", metavar="FILE")
    imported.add_argument("--name", help="the set's name (default: the file's name without .jsonl)")
    listing = add_command(commands, "list", "list eval sets", run_list)
    listing.add_argument("--json", action="store_true")
    show = add_command(commands, "show", "an eval set's questions", run_show)
    show.add_argument("name")
    show.add_argument("--json", action="store_true")
    remove = add_command(commands, "remove", "delete an eval set", run_remove)
    remove.add_argument("name")
    paraphrase = add_command(commands, "paraphrase", "a fine-tuning dataset's training questions as trained and as "
                             "a system rewords them: DATASET-training and DATASET-paraphrased, the pair Diagnose "
                             "reads for brittleness on paraphrases", run_paraphrase)
    paraphrase.add_argument("dataset", metavar="DATASET")
    paraphrase.add_argument("--system", required=True, metavar="SPEC", help="who rewords, e.g. local or anthropic")
    paraphrase.add_argument("--limit", type=int, default=DEFAULT_LIMIT, metavar="N",
                            help=f"reword at most N training questions, spread over the set (default: {DEFAULT_LIMIT})")
    demo = add_command(subparsers, "demo", "set up a shipped demo as a background job and wait for it; what exists "
                       "already is kept", run_demo)
    demo.add_argument("name", nargs="?", default=DEFAULT_DEMO, choices=list(DEMOS), help=" ".join(
        f"`{name}`{' (default)' if name == DEFAULT_DEMO else ''}: {shipped.description}"
        for name, shipped in DEMOS.items()))


@operator_paths()  # the file is read here, in the operator's shell
def run_import(args: argparse.Namespace) -> int:
    row = import_eval_file(current_database(), args.file, args.name, actor=args.actor)
    print(f"Imported eval set {row.name}: {row.item_count} questions from {row.source}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    sets = list_eval_sets(current_database())
    if args.json:
        print(json.dumps([s.model_dump(mode="json") for s in sets], indent=2))
    for eval_set in [] if args.json else sets:
        print(f"{eval_set.name}\t{eval_set.item_count} questions\t{eval_set.source}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    db = current_database()
    eval_set, items = get_eval_set(db, args.name), eval_items(db, args.name)
    if args.json:
        print(json.dumps({**eval_set.model_dump(mode="json"),
                          "items": [item.model_dump(mode="json", exclude={"id", "set_id"}) for item in items]}, indent=2))
        return 0
    print(f"{eval_set.name}: {eval_set.item_count} questions from {eval_set.source}")
    for item in items:
        labels = " ".join(filter(None, [item.kind, *(f"#{tag}" for tag in item.tags)]))
        print(f"{item.item_id}\t{item.question}\t{labels}")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    remove_eval_set(current_database(), args.name, actor=args.actor)
    print(f"Removed eval set {args.name}")
    return 0


def run_paraphrase(args: argparse.Namespace) -> int:
    made = paraphrase_eval_sets(current_database(), args.dataset, args.system, args.limit,
                                lambda stage, _fraction: print(stage, file=sys.stderr), actor=args.actor)
    for reason, count in made.dropped.items():
        print(f"dropped {count}: {reason}", file=sys.stderr)
    print(f"{made.training_set} and {made.paraphrase_set}: {made.kept} of {made.asked} question(s) kept")
    return 0


def run_demo(args: argparse.Namespace) -> int:
    from core.evaluation.demo_job import submit_demo
    from core.jobs.commands import follow

    job = follow(submit_demo(current_database(), args.name, args.actor).id, f"setting up the {args.name} demo")
    if job is None:
        return 1
    created, existing = job.result["created"], job.result["existing"]
    for what in created:
        print(f"Created: {what}")
    for what in existing:
        print(f"Already there: {what}")
    print(f"Demo ready: {len(created)} created, {len(existing)} already there.")
    return 0
