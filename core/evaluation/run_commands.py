"""`python -m core eval run|rescore|pairwise|list|show`: eval runs from the command line, for CI gating too.

`eval run` waits for the run and exits 1 when it did not finish or a `--fail-under` threshold
fails (metric means, as the JSON names them), 0 otherwise. Wherever a run's judge scores are printed,
so is how far human labels agree with the judge, and the answers it graded unstably.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.errors import InvalidInputError
from core.evaluation.catalog import (CONTAINS_REFERENCE, JUDGE_CORRECTNESS, JUDGE_METRICS, METRICS,
                                     SHORT_REFERENCE_WORDS, UNSTABLE_SPREAD)
from core.evaluation.experiments import experiment_systems, proposed_experiment
from core.evaluation.judge import MAX_REPEATS, REPEAT_TEMPERATURE
from core.evaluation.labels import judge_agreement
from core.evaluation.runs import RunOptions, get_run, list_runs, results, submit_eval, submit_rescore
from core.evaluation.sets import resolve_eval_set
from core.evaluation.views import calibration_line, format_all_questions, format_estimate, unstable_rows
from core.paths import operator_paths
from core.store import current_database
from core.subcommands import add_command


def register(subparsers) -> None:
    evaluation = subparsers.add_parser("eval", help="evaluation runs: an eval set asked of systems, graded")
    commands = evaluation.add_subparsers(dest="eval_command", metavar="COMMAND", required=True)
    run = add_command(commands, "run", "run an eval set on systems and wait for the scores", run_eval)
    run.add_argument("--set", required=True, metavar="FILE_OR_NAME", help="a stored eval set, or a JSONL file")
    run.add_argument("--system", action="append", default=[], metavar="SPEC", help="repeat for each system")
    run.add_argument("--from-session", type=int, metavar="ID", help="run a decision session's proposed experiment: "
                     "its variants become the systems (with --kb and --adapter), and the run is linked to it")
    run.add_argument("--kb", metavar="NAME", help="with --from-session: the knowledge base of the RAG variants")
    run.add_argument("--adapter", metavar="NAME", help="with --from-session: the adapter of the fine-tuned variants")
    run.add_argument("--model", default="local", metavar="SPEC", help="with --from-session: the model every variant "
                     "builds on (default: local, the embedded SmolLM2)")
    run.add_argument("--metric", action="append", choices=METRICS, help="repeat; default: every metric that needs "
                     f"no judge ({', '.join(JUDGE_METRICS)} need --judge), {CONTAINS_REFERENCE} only when the "
                     f"set's median reference has at most {SHORT_REFERENCE_WORDS} words")
    run.add_argument("--judge", metavar="SPEC", help="a system that grades correctness 1-5 against the reference "
                     "and serves ragas's judge metrics (e.g. anthropic:claude-sonnet-4-5); the local model works "
                     "but judges poorly")
    run.add_argument("--judge-repeats", type=int, default=RunOptions.judge_repeats, metavar="K",
                     help=f"with --judge: grade each answer's correctness K times (at most {MAX_REPEATS}), sampling "
                     f"the judge at temperature {REPEAT_TEMPERATURE}; judge_correctness is the mean of the K grades, "
                     f"judge_spread their highest less their lowest, and a spread of {UNSTABLE_SPREAD} or more marks "
                     "the answer unstable (default 1: one greedy grade)")
    run.add_argument("--max-new-tokens", type=int, default=RunOptions.max_new_tokens, metavar="N")
    run.add_argument("--batch-size", type=int, default=RunOptions.batch_size, metavar="N")
    run.add_argument("--temperature", type=float, default=RunOptions.temperature, help="0 (default) answers greedily")
    run.add_argument("--seed", type=int, help="with a temperature above 0: the same seed samples the same answers")
    run.add_argument("--limit", type=int, metavar="N", help="ask only the set's first N questions (a quick check "
                     "before a full run)")
    run.add_argument("--json", type=Path, metavar="OUT", help="write the run, its summary and answers as JSON")
    run.add_argument("--fail-under", action="append", default=[], metavar="METRIC=VALUE",
                     help="exit 1 when a system's mean of METRIC is under VALUE")
    run.add_argument("--no-wait", action="store_true", help="print the run id and return at once")
    rescore = add_command(commands, "rescore", "grade a finished run's answers again (new metrics, another "
                          "judge) without asking the systems again", run_rescore)
    rescore.add_argument("id", type=int)
    rescore.add_argument("--metric", action="append", default=[], choices=METRICS)
    rescore.add_argument("--judge", metavar="SPEC")
    rescore.add_argument("--no-wait", action="store_true")
    pairwise = add_command(commands, "pairwise", "a judge compares two of a run's systems question by question, "
                           "in both orders", run_pairwise)
    pairwise.add_argument("id", type=int)
    pairwise.add_argument("a", metavar="SYSTEM_A")
    pairwise.add_argument("b", metavar="SYSTEM_B")
    pairwise.add_argument("--judge", required=True, metavar="SPEC")
    listing = add_command(commands, "list", "list eval runs, newest first", run_list)
    listing.add_argument("--json", action="store_true")
    show = add_command(commands, "show", "a run's summary per system", run_show)
    show.add_argument("id", type=int)
    show.add_argument("--json", action="store_true")


def run_eval(args: argparse.Namespace) -> int:
    from core.jobs.commands import wait_for
    from core.jobs.queue import SUCCEEDED

    thresholds = _thresholds(args.fail_under)
    db = current_database()
    systems = list(args.system)
    if args.from_session is not None:
        systems += experiment_systems(proposed_experiment(db, args.from_session), args.kb, args.adapter,
                                      args.model)
    with operator_paths():  # an eval set file is read here, in the operator's shell
        eval_set = resolve_eval_set(db, args.set, actor=args.actor)
    run = submit_eval(db, eval_set.name, systems, args.metric,  # None: the set's default_metrics
                      RunOptions(max_new_tokens=args.max_new_tokens, batch_size=args.batch_size,
                                 temperature=args.temperature, seed=args.seed, limit=args.limit,
                                 judge_repeats=args.judge_repeats),
                      judge=args.judge,
                      decision_session_id=args.from_session, actor=args.actor)
    print(run.id, flush=True)
    if args.no_wait:
        return 0
    job = wait_for(run.job_id)
    run = get_run(db, run.id)
    if args.json:
        args.json.write_text(json.dumps(run_report(db, run.id), indent=2), encoding="utf-8")
    if job.status != SUCCEEDED:
        print(f"eval run {run.id} {job.status}" + (f": {job.error}" if job.error else ""), file=sys.stderr)
        return 1
    print(describe(db, run))
    failures = _failures(run.summary, thresholds)
    for failure in failures:
        print(f"FAIL {failure}", file=sys.stderr)
    return 1 if failures else 0


def run_rescore(args: argparse.Namespace) -> int:
    from core.jobs.commands import wait_for
    from core.jobs.queue import SUCCEEDED

    db = current_database()
    job = submit_rescore(db, args.id, args.metric, args.judge, actor=args.actor)
    if args.no_wait:
        print(job.id)
        return 0
    job = wait_for(job.id)
    if job.status != SUCCEEDED:
        print(f"re-scoring run {args.id} {job.status}" + (f": {job.error}" if job.error else ""), file=sys.stderr)
        return 1
    print(describe(db, get_run(db, args.id)))
    return 0


def run_pairwise(args: argparse.Namespace) -> int:
    from core.evaluation.pairwise import submit_pairwise
    from core.jobs.commands import wait_for
    from core.jobs.queue import SUCCEEDED

    db = current_database()
    job = wait_for(submit_pairwise(db, args.id, args.a, args.b, args.judge, actor=args.actor).id)
    if job.status != SUCCEEDED:
        print(f"pairwise judging {job.status}" + (f": {job.error}" if job.error else ""), file=sys.stderr)
        return 1
    outcome = job.result
    consistency = outcome["position_consistency"]
    print(f"{outcome['a']} vs {outcome['b']} over {outcome['pairs']} questions: A wins {outcome['a_wins']}, "
          f"B wins {outcome['b_wins']}, ties {outcome['ties']}, judge failures {outcome['failures']}; position "
          f"consistency {'-' if consistency is None else f'{consistency:.0%}'}")
    return 0


def _thresholds(texts: list[str]) -> dict[str, float]:
    thresholds = {}
    for text in texts:
        metric, _, value = text.partition("=")
        try:
            thresholds[metric] = float(value)
        except ValueError:
            raise InvalidInputError(f"--fail-under {text!r} is not METRIC=NUMBER, e.g. token_f1=0.5.") from None
        if metric not in (*METRICS, JUDGE_CORRECTNESS):
            raise InvalidInputError(f"--fail-under names an unknown metric {metric!r}: use "
                                    f"{', '.join((*METRICS, JUDGE_CORRECTNESS))}.")
    return thresholds


def _failures(summary: dict, thresholds: dict[str, float]) -> list[str]:
    failures = []
    for system, stats in summary.items():
        for metric, minimum in thresholds.items():
            mean = stats["metrics"].get(metric, {}).get("mean")
            if mean is None or mean < minimum:
                failures.append(f"{system}: {metric} {'missing' if mean is None else f'{mean:.3f}'} < {minimum}")
    return failures


def describe(db, run) -> str:
    """A run's summary per system; under judge scores, the judge's calibration and its unstable grades."""
    lines = [f"eval run {run.id} on {run.eval_set} ({run.git_revision or 'no git revision'})"]
    for system, stats in run.summary.items():
        metrics = "  ".join(f"{name}={format_estimate(m)} (all questions {format_all_questions(m)})"
                            for name, m in sorted(stats["metrics"].items()))
        if "unstable_judgements" in stats:
            metrics += f"  {stats['unstable_judgements']} unstable judgement(s)"
        p50 = stats["latency_ms"].get("p50")
        cost = stats["cost_per_1k_usd"]
        lines.append(f"{system}: {stats['answers'] - stats['failed']}/{stats['answers']} answered  {metrics}  "
                     f"p50 {p50 / 1000 if p50 else 0:.2f} s  " + (f"${cost:.4f}/1k" if cost is not None else ""))
    if any(JUDGE_CORRECTNESS in stats["metrics"] for stats in run.summary.values()):
        lines.append(calibration_line(judge_agreement(db, run.id)))
        lines += [f"unstable: {row['question id']} on {row['system']}: spread {row['spread']:.2f} ({row['grades']})"
                  for row in unstable_rows(db, run)]
    return "\n".join(lines)


def run_report(db, run_id: int) -> dict:
    run = get_run(db, run_id)
    return {**run.model_dump(mode="json"), "judge_agreement": judge_agreement(db, run_id),
            "answers": [r.model_dump(mode="json", exclude={"id", "run_id"}) for r in results(db, run_id)]}


def run_list(args: argparse.Namespace) -> int:
    rows = list_runs(current_database())
    if args.json:
        print(json.dumps([{**run.model_dump(mode="json"), "status": job.status if job else None}
                          for run, job in rows], indent=2))
        return 0
    for run, job in rows:
        print(f"{run.id}\t{job.status if job else '-'}\t{run.eval_set}\t{', '.join(run.systems)}\t{run.created_at:%Y-%m-%d %H:%M}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    db = current_database()
    if args.json:
        print(json.dumps(run_report(db, args.id), indent=2))
        return 0
    print(describe(db, get_run(db, args.id)))
    return 0
