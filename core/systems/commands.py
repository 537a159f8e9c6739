"""`python -m core ask SPEC "question"`: one system, one question, from the shell."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from core.errors import InvalidInputError
from core.llm.base import Completion, GenerationOptions, Prompt, cost_line
from core.llm.spec import FORMS, parse_spec
from core.subcommands import add_command
from core.systems import build_system


def register(subparsers) -> None:
    ask = add_command(subparsers, "ask", "ask one system a question; prints the answer, tokens, latency, cost", run_ask)
    ask.add_argument("spec", metavar="SPEC", help="system spec: " + ", ".join(FORMS))
    ask.add_argument("question")
    ask.add_argument("--system-prompt", default="", help="system prompt (default: none)")
    ask.add_argument("--max-new-tokens", type=int, default=GenerationOptions.max_new_tokens, metavar="N")
    ask.add_argument("--temperature", type=float, default=0.0, help="0 (default) answers greedily")
    ask.add_argument("--seed", type=int, help="with a temperature above 0: the same seed samples the same answer")
    ask.add_argument("--json", action="store_true", help="print the completion as JSON")


def run_ask(args: argparse.Namespace) -> int:
    if not args.question.strip():
        raise InvalidInputError("The question is empty: pass the question as the second argument.")
    if args.max_new_tokens < 1:
        raise InvalidInputError("--max-new-tokens must be at least 1.")
    if not args.temperature < float("inf"):  # nan too
        raise InvalidInputError(f"--temperature must be a finite number (0 answers greedily), not {args.temperature}.")
    backend = build_system(parse_spec(args.spec))
    options = GenerationOptions(max_new_tokens=args.max_new_tokens, temperature=max(args.temperature, 0.0),
                                seed=args.seed)
    completion = backend.generate(Prompt.ask(args.question.strip(), system=args.system_prompt), options)
    print(json.dumps(asdict(completion), indent=2) if args.json else describe(completion))
    return 0


def describe(completion: Completion) -> str:
    lines = [completion.text, ""]
    lines += [f"[{c.number}] {c.location}" for c in completion.citations]
    lines += [cost_line(completion)]
    lines += [f"warning: {w}" for w in completion.warnings]
    return "\n".join(lines)

