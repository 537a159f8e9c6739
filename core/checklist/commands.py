"""`python -m core checklist ...`: decision sessions from the command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.checklist.report import render_markdown
from core.checklist.sessions import answers_by_participant, get_session, list_sessions
from core.store import current_database
from core.subcommands import add_command


def register(subparsers) -> None:
    checklist = subparsers.add_parser("checklist", help="decision sessions (the Decide page)")
    commands = checklist.add_subparsers(dest="checklist_command", metavar="COMMAND", required=True)
    add_command(commands, "list", "list decision sessions", run_list)
    export = add_command(commands, "export", "write a session's report as markdown", run_export)
    export.add_argument("session_id", type=int, metavar="SESSION_ID")
    export.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")


def run_list(_args: argparse.Namespace) -> int:
    for s in list_sessions(current_database()):
        print(f"{s.id}\t{s.name}\t{s.participants} participant(s)\t{s.recommendation or '-'}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    db = current_database()
    report = render_markdown(get_session(db, args.session_id), answers_by_participant(db, args.session_id))
    if args.output:
        args.output.write_text(report, encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        print(report)
    return 0
