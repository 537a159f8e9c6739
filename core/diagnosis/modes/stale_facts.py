"""A fine-tuned model states facts that changed after its training: the adapter, asked questions whose answer
changed, gives the old value (or not the new one) while a RAG system over the current docs gives the new one.

A question counts as changed when its eval set tags it (eval_sets/README.md):
- `changed-after-training`: its reference is the value after the change;
- `changes-in-...` (the demo's `changes-in-v2`): changed where a set imported before holds the same question
  with another answer (ledgerly-v1 under ledgerly-v2); in the first version the tag only announces a change.
The old value is known where such an earlier set exists. Answers are checked on words (runs of letters and
digits, any case, so "07:00–19:00" holds "19:00"): a value is stated when the answer holds every keyword of its
reference (the reference itself where there are none) as whole words; the old one when it holds the old
keywords the new reference lacks and not the new value.

Found when the adapter states the old value on at least MIN_OLD_ANSWERS changed questions, or when the 95%
Wilson interval of its new-value rate lies wholly below that of its rate on unchanged factual questions (intervals
apart: a conservative test, for sets whose old values are unknown). An adapter that states fewer than half of the
unchanged facts never learnt the facts, so it cannot tell."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterable, Optional, Sequence

from core.diagnosis.evidence import Evidence, RunEvidence, adapter_of, spec_of
from core.diagnosis.finding import Action, Figure, Finding, Mode, Question, Status
from core.evaluation.stats import Estimate, wilson_mean
from core.llm.spec import SystemSpec
from core.store.tables import EvalItem

MODE = Mode("stale_facts", "Fine-tuned model states facts that changed after its training", "Fine-tuning",
            "Fine-tuning was used to inject facts, not just style",
            "Never inject facts via fine-tuning: keep current facts in RAG and fine-tune for behaviour")
CHANGED_TAG = "changed-after-training"
VERSION_TAG_PREFIX = "changes-in-"
MIN_OLD_ANSWERS = 2  # one old value could be a lucky guess; two are what the adapter learnt
LEARNT_SHARE = 0.5  # stating fewer of the unchanged facts than this, the adapter never learnt the facts
WOULD_TELL = (f"ask the adapter questions whose facts changed after its training: run it on the demo's ledgerly-v2 "
              f"set (ledgerly-v1 imported before it), or tag your eval set's changed facts '{CHANGED_TAG}'.")


@dataclass
class Tally:
    """One system's answers in one run: each changed question (does it state the new value? the old one?) and
    each unchanged factual question (does it state its reference?)."""

    new: dict[str, bool] = field(default_factory=dict)
    old: dict[str, bool] = field(default_factory=dict)  # only where the old value is known
    unchanged: list[bool] = field(default_factory=list)


def detect(evidence: Evidence) -> list[Finding]:
    """One finding per system with an adapter, from the newest run that asked it changed questions."""
    adapted = [system for system in evidence.systems() if adapter_of(system)]
    if not adapted:
        return [Finding.cannot_tell(MODE, WOULD_TELL)]
    newest: dict[str, RunEvidence] = {}
    for run in evidence.runs:  # oldest first: a newer run replaces an older one
        changed = changed_questions(run)
        for system in adapted:
            if any(answer.item_id in changed and answer.error is None for answer in run.answers_of(system)):
                newest[system] = run
    return [_finding(evidence, system, newest[system]) if system in newest
            else _cannot_tell(system, _dataset_warnings(evidence, system)) for system in adapted]


def changed_questions(run: RunEvidence) -> dict[str, Optional[EvalItem]]:
    """item id -> the question's earlier version (None where only its tag says it changed)."""
    changed: dict[str, Optional[EvalItem]] = {}
    for item_id, item in run.items.items():
        earlier = run.earlier_items.get(item_id)
        if CHANGED_TAG in item.tags or (earlier and _tagged_changed(item)):
            changed[item_id] = earlier
    return changed


def tally(run: RunEvidence, system: str) -> Tally:
    changed, counted = changed_questions(run), Tally()
    for answer in run.answers_of(system):
        item = run.items.get(answer.item_id)
        if answer.error is not None or item is None:
            continue
        if answer.item_id in changed:
            counted.new[answer.item_id] = states(answer.text, item)
            if (earlier := changed[answer.item_id]) is not None:
                counted.old[answer.item_id] = states_old(answer.text, earlier, item)
        elif _is_unchanged_fact(item):
            counted.unchanged.append(states(answer.text, item))
    return counted


def states(answer: str, item: EvalItem) -> bool:
    """The answer holds every keyword of the item (or its reference, where it has none) as whole words."""
    markers = _markers(item)
    return bool(markers) and _holds(answer, markers)


def states_old(answer: str, earlier: EvalItem, now: EvalItem) -> bool:
    """The answer holds the earlier version's keywords that the current one lacks, and not the current value."""
    current = {_words(marker) for marker in _markers(now)}
    distinct = [marker for marker in _markers(earlier) if _words(marker) not in current] or _markers(earlier)
    return bool(distinct) and _holds(answer, distinct) and not states(answer, now)


def _markers(item: EvalItem) -> list[str]:
    return [marker for marker in (item.keywords or [item.reference_answer or ""]) if _words(marker)]


def _holds(answer: str, phrases: Sequence[str]) -> bool:
    text = f" {_words(answer)} "
    return all(f" {_words(phrase)} " in text for phrase in phrases)


def _words(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def _tagged_changed(item: EvalItem) -> bool:
    return any(tag == CHANGED_TAG or tag.startswith(VERSION_TAG_PREFIX) for tag in item.tags)


def _is_unchanged_fact(item: EvalItem) -> bool:
    return not _tagged_changed(item) and item.kind != "behaviour" and bool(_markers(item))


def _finding(evidence: Evidence, system: str, run: RunEvidence) -> Finding:
    counted = tally(run, system)
    new, old = _rate(counted.new.values()), _rate(counted.old.values())
    unchanged = _rate(counted.unchanged)
    rag = _best_rag(run, set(counted.new))
    figures = [Figure.of("states the new value on changed questions", new),
               *([Figure.of("states the old value on changed questions", old)] if old else []),
               *([Figure.of("states the reference on unchanged questions", unchanged)] if unchanged else []),
               *([Figure.of(f"{rag[0]} states the new value", rag[1])] if rag else []),
               *_dataset_warnings(evidence, system)]
    old_count = sum(counted.old.values())
    lower = bool(unchanged) and new.high < unchanged.low
    shown = _shown(system, run, counted)
    questions = _questions(run, system, counted)
    if old_count < MIN_OLD_ANSWERS and not lower and unchanged and unchanged.mean < LEARNT_SHARE:
        return Finding(MODE, Status.CANNOT_TELL, f"Cannot tell: {shown}: it did not learn the facts it was trained "
                       "on, so it cannot show stale ones; train it further (more epochs or steps) and ask it again.",
                       system, tuple(figures), (run.id,), questions)
    if old_count < MIN_OLD_ANSWERS and not lower:
        return Finding(MODE, Status.NOT_FOUND, f"{shown}: no sign of facts learnt in fine-tuning.", system,
                       tuple(figures), (run.id,), questions)
    fix = (f"{rag[0]} states the new value on {_count(rag[1])}: keep facts in RAG" if rag
           else "Keep facts in RAG (ask it with a knowledge base of the current docs)")
    return Finding(MODE, Status.FOUND, f"{shown}. {fix} and fine-tune for behaviour only.", system, tuple(figures),
                   (run.id,), questions, _action(run, system, rag[0] if rag else None))


def _rate(passed: Iterable[bool]) -> Optional[Estimate]:
    values = [float(value) for value in passed]
    return wilson_mean(values) if values else None


def _count(estimate: Estimate) -> str:
    return f"{round(estimate.mean * estimate.n)} of {estimate.n}"


def _shown(system: str, run: RunEvidence, counted: Tally) -> str:
    text = (f"{system} states the new value on {sum(counted.new.values())} of {len(counted.new)} changed "
            f"question(s) in run {run.id}")
    if counted.old:
        text += f" and the old one on {sum(counted.old.values())} of {len(counted.old)}"
    if counted.unchanged:
        text += f"; the reference on {sum(counted.unchanged)} of {len(counted.unchanged)} unchanged one(s)"
    return text


def _best_rag(run: RunEvidence, changed: set[str]) -> Optional[tuple[str, Estimate]]:
    """The system with a knowledge base and no adapter that states the most new values on the same questions."""
    rates = []
    for system in run.run.systems:
        if spec_of(system).kb and not adapter_of(system):
            answers = [a for a in run.answers_of(system) if a.item_id in changed and a.error is None]
            if answers:
                rates.append((system, wilson_mean([float(states(a.text, run.items[a.item_id])) for a in answers])))
    return max(rates, key=lambda rate: rate[1].mean, default=None)


def _questions(run: RunEvidence, system: str, counted: Tally) -> tuple[Question, ...]:
    """The changed questions it did not answer with the new value, those with the old value first."""
    missed = sorted((item_id for item_id, stated in counted.new.items() if not stated),
                    key=lambda item_id: not counted.old.get(item_id))
    return tuple(Question(run.id, item_id, system, _note(run, item_id, counted.old.get(item_id))) for item_id in missed)


def _note(run: RunEvidence, item_id: str, old: Optional[bool]) -> str:
    now = ", ".join(_markers(run.items[item_id]))
    if old:
        return f"states the old value ({', '.join(_markers(run.earlier_items[item_id]))}) where the reference has {now}"
    return f"does not state the new value ({now})" + ("" if old is None else " nor the old one")


def _action(run: RunEvidence, system: str, rag: Optional[str]) -> Optional[Action]:
    """Ask the adapter from the knowledge base that answered right: behaviour from it, facts from RAG."""
    kb = spec_of(rag).kb if rag else spec_of(system).kb
    if not kb or spec_of(system).kb:
        return None
    spec = spec_of(system)
    with_kb = SystemSpec(spec.backend, spec.model, dict(spec.options), kb).text
    return Action("rerun_with", f"Evaluate {with_kb} on {run.run.eval_set}",
                  {"run_id": run.id, "systems": [with_kb, system]})


def _dataset_warnings(evidence: Evidence, system: str) -> list[Figure]:
    """Days each knowledge base asked beside the adapter was indexed after the adapter's dataset was made."""
    adapter = evidence.adapters.get(adapter_of(system) or "")
    dataset = evidence.datasets.get(adapter.dataset) if adapter else None
    if dataset is None:
        return []
    beside = {spec_of(other).kb for run in evidence.runs if system in run.run.systems for other in run.run.systems}
    warnings = []
    for kb in sorted(beside - {None}):
        indexed = evidence.knowledge_bases[kb].last_indexed_at if kb in evidence.knowledge_bases else None
        if indexed and _utc(indexed) > _utc(dataset.created_at):
            days = (_utc(indexed) - _utc(dataset.created_at)).total_seconds() / 86400
            warnings.append(Figure(f"knowledge base {kb} indexed after dataset {dataset.name} was made", days,
                                   unit="days"))
    return warnings


def _utc(moment: datetime) -> datetime:
    """SQLite gives back naive UTC datetimes, PostgreSQL aware ones."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def _cannot_tell(system: str, warnings: list[Figure]) -> Finding:
    if not warnings:
        return Finding.cannot_tell(MODE, WOULD_TELL, system)
    newer = "; ".join(figure.text() for figure in warnings)
    return Finding(MODE, Status.CANNOT_TELL, f"Cannot tell: {WOULD_TELL} Its facts may be stale: {newer}.", system,
                   tuple(warnings))
