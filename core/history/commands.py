"""`python -m core runs list|compare|baseline`: eval runs over time, compared and gated.

`runs compare A B --fail-on-regression` exits 1 when run B regressed on any metric against run A
(Holm-adjusted p below 0.05 and the 95% interval of the paired difference wholly below zero), for CI gating.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from core.evaluation.runs import list_runs
from core.history.baselines import check_against_baseline, set_baseline
from core.history.compare import RunComparison, compare_runs, holm_note
from core.store import current_database
from core.subcommands import add_command


def register(subparsers) -> None:
    runs = subparsers.add_parser("runs", help="eval runs over time: list, compare, baselines")
    commands = runs.add_subparsers(dest="runs_command", metavar="COMMAND", required=True)
    listing = add_command(commands, "list", "eval runs, newest first, with regressions against their baseline",
                          run_list)
    listing.add_argument("--json", action="store_true")
    listing.add_argument("--limit", type=int, default=50)
    compare = add_command(commands, "compare", "run B against run A, question by question, with paired tests",
                          run_compare)
    compare.add_argument("a", type=int, metavar="A")
    compare.add_argument("b", type=int, metavar="B")
    compare.add_argument("--system-a", metavar="SPEC", help="the system of run A (default: the one both ran)")
    compare.add_argument("--system-b", metavar="SPEC", help="the system of run B (default: --system-a)")
    compare.add_argument("--fail-on-regression", action="store_true", help="exit 1 when B regressed on a metric")
    compare.add_argument("--json", action="store_true")
    baseline = add_command(commands, "baseline", "make a run its eval set's baseline", run_baseline)
    baseline.add_argument("id", type=int)



def run_list(args: argparse.Namespace) -> int:
    db = current_database()
    rows = []
    for run, job in list_runs(db, args.limit):
        check = check_against_baseline(db, run)
        regressed = {system: [m.metric for m in metrics] for system, metrics in check.regressions.items()}
        rows.append({"id": run.id, "eval_set": run.eval_set, "status": job.status if job else None,
                     "systems": run.systems, "created_at": run.created_at.isoformat(),
                     "baseline": run.is_baseline, "regressions": regressed, "baseline_notes": list(check.notes)})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        flags = " ".join(filter(None, ["[baseline]" if row["baseline"] else "", *(
            f"REGRESSED {system}: {', '.join(metrics)}" for system, metrics in row["regressions"].items()),
            *(f"NOTE: {note}" for note in row["baseline_notes"])]))
        print(f"{row['id']}\t{row['status'] or '-'}\t{row['eval_set']}\t{', '.join(row['systems'])}\t"
              f"{row['created_at'][:16]}\t{flags}".rstrip())
    return 0


def run_compare(args: argparse.Namespace) -> int:
    comparison = compare_runs(current_database(), args.a, args.b, args.system_a, args.system_b)
    if args.json:
        print(json.dumps(asdict(comparison), indent=2))
    else:
        print(describe(comparison))
    return 1 if args.fail_on_regression and comparison.regressions else 0


def describe(comparison: RunComparison) -> str:
    lines = [f"run {comparison.run_b} ({comparison.system_b}) against run {comparison.run_a} ({comparison.system_a})"]
    for m in comparison.metrics:
        d = m.difference
        lines.append(f"{m.metric}: {m.mean_a:.3f} -> {m.mean_b:.3f}, difference {d.mean:+.3f} [{d.low:+.3f}, "
                     f"{d.high:+.3f}] over {m.questions} questions; {m.test.name} p={m.test.p_value:.3f}, "
                     f"Holm p={m.p_value:.3f}: "
                     f"{m.verdict}; {len(m.better)} better, {len(m.worse)} worse"
                     + (" REGRESSED" if m.regressed else ""))
    if comparison.metrics:
        lines.append(holm_note(len(comparison.metrics)))
    else:
        lines.append("no metric was scored on the same questions in both runs")
    lines += [f"NOTE: {note}" for note in comparison.notes]
    return "\n".join(lines)


def run_baseline(args: argparse.Namespace) -> int:
    run = set_baseline(current_database(), args.id, args.actor)
    print(f"Run {run.id} is now the baseline of {run.eval_set}")
    return 0
