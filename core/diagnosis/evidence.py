"""What the detectors read, loaded once from the store: the runs in scope with their answers, scores and
questions, and the adapters, datasets, knowledge bases and training curves those runs' systems name.
Detectors are pure functions of an `Evidence`, so tests build one from stored fixture runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Optional, Sequence

from sqlmodel import col, select

from core.errors import NotFoundError
from core.llm.spec import SystemSpec, parse_spec
from core.store import Database
from core.store.tables import (Adapter, EvalItem, EvalResult, EvalRun, EvalScore, EvalSet, FineTuneDataset,
                               JobMetric, KnowledgeBase)

RECENT_RUNS = 50  # a diagnosis with no runs named reads this many of the newest finished ones


@dataclass
class RunEvidence:
    """One finished run: every answer (failures too), each answer's scores, and the questions asked."""

    run: EvalRun
    answers: list[EvalResult]
    scores: dict[int, dict[str, float]]  # answer id -> metric -> value
    items: dict[str, EvalItem]  # item id -> the question as the run's eval set holds it
    # item id -> the same question as the newest set imported before it answers it differently: the facts
    # before a change (the demo's ledgerly-v1 under ledgerly-v2)
    earlier_items: dict[str, EvalItem] = field(default_factory=dict)

    @property
    def id(self) -> int:
        return self.run.id

    def answers_of(self, system: str) -> list[EvalResult]:
        return [answer for answer in self.answers if answer.system == system]

    def score(self, answer: EvalResult, metric: str) -> Optional[float]:
        return self.scores.get(answer.id, {}).get(metric)

    def metric_values(self, system: str, metric: str) -> dict[str, float]:
        """item id -> the system's score on it, for the answers that have one."""
        return {answer.item_id: value for answer in self.answers_of(system)
                if (value := self.score(answer, metric)) is not None}

    def paired(self, metric: str, system_a: str, system_b: str) -> tuple[list[str], list[float], list[float]]:
        """The questions both systems were scored on, with their two scores, in the run's order."""
        a, b = self.metric_values(system_a, metric), self.metric_values(system_b, metric)
        questions = [item_id for item_id in a if item_id in b]
        return questions, [a[q] for q in questions], [b[q] for q in questions]


@dataclass
class Evidence:
    runs: list[RunEvidence]
    adapters: dict[str, Adapter] = field(default_factory=dict)
    datasets: dict[str, FineTuneDataset] = field(default_factory=dict)
    knowledge_bases: dict[str, KnowledgeBase] = field(default_factory=dict)
    curves: dict[str, dict[str, list[tuple[int, float]]]] = field(default_factory=dict)  # adapter -> metric -> steps

    @property
    def run_ids(self) -> list[int]:
        return [run.id for run in self.runs]

    def systems(self) -> list[str]:
        """Every system the runs asked, in first-seen order."""
        return list(dict.fromkeys(system for run in self.runs for system in run.run.systems))


def spec_of(system: str) -> SystemSpec:
    return parse_spec(system)


def adapter_of(system: str) -> Optional[str]:
    return spec_of(system).options.get("adapter")


def without_adapter(system: str) -> str:
    """The same system with its adapter taken off: the base it was trained from, with the same retrieval."""
    spec = spec_of(system)
    return SystemSpec(spec.backend, spec.model, {k: v for k, v in spec.options.items() if k != "adapter"},
                      spec.kb, dict(spec.retrieval)).text


def without_knowledge_base(system: str) -> str:
    return spec_of(system).model_only.text


def load_evidence(db: Database, run_ids: Optional[Sequence[int]] = None, session_id: Optional[int] = None) -> Evidence:
    """The runs named (or a decision session's, or the newest finished ones) and what their systems use."""
    runs = _finished_runs(db, run_ids, session_id)
    with db.session(immediate=False) as session:
        evidence = Evidence([_run_evidence(session, run) for run in runs])
        adapter_names = {name for system in evidence.systems() if (name := adapter_of(system))}
        evidence.adapters = {adapter.name: adapter for adapter in session.exec(
            select(Adapter).where(col(Adapter.name).in_(adapter_names)))}
        dataset_names = {adapter.dataset for adapter in evidence.adapters.values()}
        evidence.datasets = {dataset.name: dataset for dataset in session.exec(
            select(FineTuneDataset).where(col(FineTuneDataset.name).in_(dataset_names)))}
        kb_names = {spec_of(system).kb for system in evidence.systems()} - {None}
        evidence.knowledge_bases = {kb.name: kb for kb in session.exec(
            select(KnowledgeBase).where(col(KnowledgeBase.name).in_(kb_names)))}
        evidence.curves = _curves(session, evidence.adapters.values())
    return evidence


def _finished_runs(db: Database, run_ids: Optional[Sequence[int]], session_id: Optional[int]) -> list[EvalRun]:
    query = select(EvalRun).where(col(EvalRun.finished_at).is_not(None)).order_by(col(EvalRun.id).desc())
    if run_ids:
        query = query.where(col(EvalRun.id).in_(list(run_ids)))
    elif session_id is not None:
        query = query.where(EvalRun.decision_session_id == session_id)
    else:
        query = query.limit(RECENT_RUNS)
    with db.session(immediate=False) as session:
        runs = list(session.exec(query).all())
    missing = sorted(set(run_ids or ()) - {run.id for run in runs})
    if missing:
        raise NotFoundError(f"No finished eval run {', '.join(map(str, missing))}: `python -m core eval list` "
                            "shows the runs.")
    return sorted(runs, key=lambda run: run.id)


def _run_evidence(session, run: EvalRun) -> RunEvidence:
    answers = list(session.exec(select(EvalResult).where(EvalResult.run_id == run.id)
                                .order_by(EvalResult.system, EvalResult.position)).all())
    scores: dict[int, dict[str, float]] = {}
    for score in session.exec(select(EvalScore).where(EvalScore.run_id == run.id, col(EvalScore.value).is_not(None))):
        scores.setdefault(score.result_id, {})[score.metric] = score.value
    set_id = run.eval_set_id or session.exec(select(EvalSet.id).where(EvalSet.name == run.eval_set)).first()
    items = {item.item_id: item for item in session.exec(select(EvalItem).where(EvalItem.set_id == set_id))}
    return RunEvidence(run, answers, scores, items, _earlier_items(session, set_id, items))


def _earlier_items(session, set_id: Optional[int], items: dict[str, EvalItem]) -> dict[str, EvalItem]:
    """The run's questions as sets imported before its set (lower ids) answered them otherwise, the newest such."""
    earlier: dict[str, EvalItem] = {}
    if set_id is None:
        return earlier
    query = select(EvalItem).where(col(EvalItem.set_id) < set_id, col(EvalItem.item_id).in_(list(items)))
    for item in session.exec(query.order_by(EvalItem.set_id)):  # oldest first: a newer set replaces an older one
        now = items[item.item_id]
        if item.question == now.question and (item.reference_answer, item.keywords) != (now.reference_answer,
                                                                                         now.keywords):
            earlier[item.item_id] = item
    return earlier


def _curves(session, adapters: Iterable[Adapter]) -> dict[str, dict[str, list[tuple[int, float]]]]:
    by_job = {adapter.job_id: adapter.name for adapter in adapters if adapter.job_id is not None}
    curves: dict[str, dict[str, list[tuple[int, float]]]] = {name: {} for name in by_job.values()}
    for metric in session.exec(select(JobMetric).where(col(JobMetric.job_id).in_(list(by_job)))
                               .order_by(JobMetric.job_id, JobMetric.step)):
        curves[by_job[metric.job_id]].setdefault(metric.name, []).append((metric.step, metric.value))
    return curves
