"""`python -m core evalset ...`: golden eval sets from the command line; `python -m core demo`
sets up the shipped demo.

`list` prints one tab-separated line per set; `--json` prints rows as JSON.
"""

from __future__ import annotations

import argparse
import json

from core.evaluation.sets import eval_items, get_eval_set, import_eval_file, list_eval_sets, remove_eval_set
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
    demo = add_command(subparsers, "demo", "set up a shipped demo: `ledgerly` (default): Ledgerly's docs v1 and v2 "
                       "as knowledge bases, their eval sets and the v1 fine-tuning dataset; `urllib3`, `jinja2`: the "
                       "installed package's source as a knowledge base and the eval set about its internals", run_demo)
    demo.add_argument("name", nargs="?", default="ledgerly", help="ledgerly (default), urllib3 or jinja2")


def run_import(args: argparse.Namespace) -> int:
    row = import_eval_file(current_database(), args.file, args.name)
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
    remove_eval_set(current_database(), args.name)
    print(f"Removed eval set {args.name}")
    return 0


def run_demo(args: argparse.Namespace) -> int:
    from core.evaluation.demo import set_up_demo

    setup = set_up_demo(current_database(), on_step=lambda what: print(f"Creating {what}...", flush=True),
                        demo=args.name)
    for what in setup.existing:
        print(f"Already there: {what}")
    print(f"Demo ready: {len(setup.created)} created, {len(setup.existing)} already there.")
    return 0
