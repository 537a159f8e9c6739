"""`python -m core diagnose [--session ID | --run ID ...] [--mode KEY ...] [--json] [--act N] [--fail-on-found]`:
the seven failure modes found (or not) in stored runs, with the evidence and the seed's fix; and
`python -m core report SESSION_ID`, a decision session's report, which ends with the diagnosis of its runs."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from core.diagnosis.actions import carry_out
from core.diagnosis.diagnose import MODES, diagnose
from core.diagnosis.views import diagnosis_markdown, session_section
from core.history.report import build_report, report_csv, report_html, report_markdown
from core.errors import InvalidInputError
from core.store import current_database
from core.subcommands import add_command


def register(subparsers) -> None:
    parser = add_command(subparsers, "diagnose", "the seeds' seven failure modes of RAG and fine-tuning, found "
                         "(or not) in stored runs and training curves, with their evidence and fix", run_diagnose)
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument("--session", type=int, metavar="ID", help="the runs of a decision session")
    scope.add_argument("--run", dest="run_ids", type=int, action="append", default=[], metavar="ID",
                       help="repeat for each run (default: the newest finished runs)")
    parser.add_argument("--mode", action="append", default=[], choices=sorted(MODES), help="repeat; default: all")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--act", type=int, metavar="N", help="carry out the fix of finding N (as numbered)")
    parser.add_argument("--fail-on-found", action="store_true", help="exit 1 when any mode is found (for CI)")
    report = add_command(subparsers, "report", "a decision session's evidence-backed report: its verdict beside "
                         "the runs that test it, and what the diagnosis of those runs found", run_report)
    report.add_argument("session", type=int, metavar="SESSION_ID")
    report.add_argument("--html", type=Path, metavar="OUT", help="one self-contained HTML file, charts included")
    report.add_argument("--csv", type=Path, metavar="OUT", help="the comparison table as CSV")
    report.add_argument("--md", type=Path, metavar="OUT", help="markdown (printed when no output is given)")


def run_diagnose(args: argparse.Namespace) -> int:
    db = current_database()
    diagnosis = diagnose(db, args.run_ids, args.session, args.mode)
    if args.act is not None:
        return _act(db, diagnosis.findings, args.act, args.actor)
    print(json.dumps(diagnosis.as_dict(), indent=2, default=str) if args.json else diagnosis_markdown(diagnosis),
          end="\n" if args.json else "")
    return 1 if args.fail_on_found and any(finding.found for finding in diagnosis.findings) else 0


def _act(db, findings, number: int, actor) -> int:
    if not 1 <= number <= len(findings) or findings[number - 1].action is None:
        acting = [str(n) for n, f in enumerate(findings, start=1) if f.action is not None]
        raise InvalidInputError(f"Finding {number} has no fix the lab can carry out; those that do: "
                                f"{', '.join(acting) or 'none'}.")
    action = findings[number - 1].action
    print(carry_out(db, action.kind, action.params, actor).message)
    return 0


def run_report(args: argparse.Namespace) -> int:
    db = current_database()
    report = build_report(db, args.session)
    link, sections = f"decide?session={args.session}", [session_section(db, report.session)]
    outputs = {args.html: lambda: report_html(report, link, sections), args.csv: lambda: report_csv(report),
               args.md: lambda: report_markdown(report, link, sections)}
    for path, render in outputs.items():
        if path is not None:
            path.write_text(render(), encoding="utf-8")
            print(f"wrote {path}")
    if not any(outputs):
        print(report_markdown(report, link, sections), end="")
    print(f"Evidence: {report.conclusion}")
    return 0
