"""`python -m core`: the command line of the lab.

Each capability contributes its subcommands through a `register(subparsers)`
function listed in `COMMAND_MODULES` (with `core.subcommands.add_command`); a
command is a function taking the parsed arguments and returning an exit code.
Typed `LabError`s become one-line messages on stderr and exit code 2 here, at
the edge, and nowhere else.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Optional, Sequence

from core.access.commands import acting_user
from core.errors import LabError

COMMAND_MODULES = (
    "core.access.commands",
    "core.checklist.commands",
    "core.systems.commands",
    "core.rag.commands",
    "core.finetune.commands",
    "core.finetune.train_commands",
    "core.jobs.commands",
    "core.serving.commands",
    "core.evaluation.commands",
    "core.evaluation.run_commands",
    "core.evaluation.review_commands",
    "core.history.commands",
    "core.diagnosis.commands",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m core",
        description="RAG-or-Tune Lab: decide between RAG and fine-tuning, then prove it on your data.",
    )
    parser.add_argument("--as", dest="acting_email", metavar="EMAIL",
                        help="act as this user, with their role (default: the operator, an admin)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    not_text = next((argument for argument in argv if _not_utf8(argument)), None)
    if not_text is not None:  # names and text are kept as UTF-8: the store could not even look it up
        print(f"error: the argument {not_text!r} holds bytes that are not UTF-8 text: type it again in UTF-8 "
              "(a file's name too: rename the file).", file=sys.stderr)
        return 2
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 0
    try:
        args.actor = acting_user(args.acting_email)
        return args.run(args)
    except LabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _not_utf8(argument: str) -> bool:
    try:
        argument.encode("utf-8")
    except UnicodeEncodeError:  # bytes that are not UTF-8 reach Python as lone surrogates
        return True
    return False
