"""A finished run with two systems' answers, and a fake judge's verdicts: what pairwise judging needs."""

from __future__ import annotations

import json

from core.access import LOCAL_ADMIN
from core.evaluation.runs import save_answers
from core.evaluation.sets import import_eval_set
from core.store.tables import EvalResult, EvalRun
from tests.llm.fake_servers import Reply, anthropic_message

SYSTEMS = ["local:smollm2", "anthropic:claude-sonnet-4-5"]


def says(winner: str, delay_s: float = 0.0) -> Reply:
    reply = anthropic_message(f'{{"winner": "{winner}", "reason": "{winner} is closer to the reference."}}')
    reply.delay_s = delay_s
    return reply


def answered_run(db, item_ids: list[str]) -> EvalRun:
    """A run of set "s" whose two systems answered every item (saved as the eval job would)."""
    import_eval_set(db, "s", "\n".join(json.dumps({"id": item, "question": f"q{item}"}) for item in item_ids), "test",
                    actor=LOCAL_ADMIN)
    with db.session() as session:
        run = EvalRun(eval_set="s", systems=SYSTEMS, metrics=[])
        session.add(run)
    answers = [EvalResult(run_id=run.id, item_id=item, position=i, system=system, text=f"{system} {item}")
               for system in SYSTEMS for i, item in enumerate(item_ids)]
    save_answers(db, answers, [{}] * len(answers))
    return run
