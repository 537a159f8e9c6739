"""`python -m core review open|assign|queue|status|settle`: the review queue from the command line."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from core.evaluation.labels import LABELS
from core.evaluation.review import assign_answer, my_queues, open_review, review_status, settle
from core.evaluation.views import alpha_line, disagreement_line
from core.store import current_database
from core.subcommands import add_command


def register(subparsers) -> None:
    review = subparsers.add_parser("review", help="review queues: reviewers label a run's answers blind")
    commands = review.add_subparsers(dest="review_command", metavar="COMMAND", required=True)
    opening = add_command(commands, "open", "queue a run's answers for reviewers, round robin", run_open)
    opening.add_argument("run_id", type=int, metavar="RUN")
    opening.add_argument("reviewers", nargs="+", metavar="REVIEWER")
    opening.add_argument("--per-answer", type=int, default=1, metavar="K", help="reviewers each answer goes to")
    assign = add_command(commands, "assign", "put one answer in one reviewer's queue", run_assign)
    assign.add_argument("answer", type=int, help="the answer's id (eval show ID --json lists them)")
    assign.add_argument("reviewer")
    queue = add_command(commands, "queue", "a reviewer's queues and how far they are", run_queue)
    queue.add_argument("reviewer")
    status = add_command(commands, "status", "a run's reviewers, their agreement and disagreements", run_status)
    status.add_argument("run_id", type=int, metavar="RUN")
    status.add_argument("--json", action="store_true")
    settling = add_command(commands, "settle", "choose the label of an answer reviewers disagree on", run_settle)
    settling.add_argument("answer", type=int)
    settling.add_argument("label", choices=LABELS)
    settling.add_argument("--comment", default="")


def run_open(args: argparse.Namespace) -> int:
    made = open_review(current_database(), args.run_id, args.reviewers, args.per_answer, actor=args.actor)
    print(f"run {args.run_id}: {made} answers queued")
    return 0


def run_assign(args: argparse.Namespace) -> int:
    assign_answer(current_database(), args.answer, args.reviewer, actor=args.actor)
    return 0


def run_queue(args: argparse.Namespace) -> int:
    for queue in my_queues(current_database(), args.reviewer):
        print(f"run {queue.run_id}\t{queue.eval_set}\t{queue.labelled}/{queue.assigned} labelled")
    return 0


def run_status(args: argparse.Namespace) -> int:
    status = review_status(current_database(), args.run_id)
    if args.json:
        print(json.dumps({"reviewers": status.progress, "alpha": status.alpha,
                          "compared_answers": status.compared_answers,
                          "disagreements": [asdict(d) for d in status.disagreements],
                          "human": {system: e.as_dict() for system, e in status.human.items()}}, indent=2))
        return 0
    for row in status.progress:
        print("\t".join(f"{key}: {value}" for key, value in row.items()))
    print(alpha_line(status))
    for disagreement in status.disagreements:
        print(disagreement_line(disagreement).replace("`", "").replace("**", ""))
    return 0


def run_settle(args: argparse.Namespace) -> int:
    settle(current_database(), args.answer, args.label, args.comment, actor=args.actor)
    return 0
