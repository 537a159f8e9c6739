"""Runs written straight into the store with chosen answers, contexts, latencies and scores: each detector
is tested on runs that show its mode and on runs that do not, with no model."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Optional, Sequence

from core.access import LOCAL_ADMIN
from core.evaluation.runs import finish_run, save_answers
from core.evaluation.sets import get_eval_set, import_eval_set
from core.store.tables import EvalResult, EvalRun

BASE = "local:smollm2"
RAG = "local:smollm2?kb=docs"


@dataclass
class Answer:
    """One system's answer to question `n` of the set, with what a run records about it."""

    text: str = "an answer"
    scores: dict[str, float] = field(default_factory=dict)
    contexts: Sequence[str] = ()  # the retrieved chunks' text, in rank order
    latency_ms: float = 100.0
    retrieval_ms: Optional[float] = None
    error: Optional[str] = None


def reference_set(db, name: str, references: Sequence[str], tags: Sequence[Sequence[str]] = ()) -> str:
    """An eval set whose question n has reference `references[n]` (and tags `tags[n]`, when given)."""
    lines = [json.dumps({"id": f"q{n}", "question": f"Question {n}?", "reference_answer": reference,
                         **({"tags": list(tags[n])} if tags else {})}) for n, reference in enumerate(references)]
    import_eval_set(db, name, "\n".join(lines), "test", actor=LOCAL_ADMIN)
    return name


def stored_answers_run(db, set_name: str, by_system: dict[str, Sequence[Answer]],
                       session_id: Optional[int] = None) -> EvalRun:
    """A finished run in which `by_system[system][n]` is the system's answer to question n."""
    asked = get_eval_set(db, set_name)
    with db.session() as session:
        run = EvalRun(eval_set=set_name, eval_set_id=asked.id, eval_set_sha256=asked.sha256, systems=list(by_system),
                      metrics=sorted({m for answers in by_system.values() for a in answers for m in a.scores}),
                      decision_session_id=session_id)
        session.add(run)
    for system, answers in by_system.items():
        rows = [EvalResult(run_id=run.id, item_id=f"q{n}", position=n, system=system, text=a.text, error=a.error,
                           latency_ms=a.latency_ms, retrieval_ms=a.retrieval_ms,
                           contexts=[{"number": rank + 1, "source": f"doc{rank}.md", "start_line": 1, "end_line": 5,
                                      "text": text} for rank, text in enumerate(a.contexts)])
                for n, a in enumerate(answers)]
        save_answers(db, rows, [{metric: (value, None) for metric, value in a.scores.items()} for a in answers])
    return finish_run(db, run.id, {system: {"spec": system} for system in by_system})
