"""Run every detector over one scope of runs: the diagnosis the Diagnose page, `python -m core diagnose`
and the decision report show."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Sequence

from core.diagnosis.evidence import Evidence, load_evidence
from core.diagnosis.finding import Finding, Mode, Status
from core.diagnosis.modes import (context_ignored, forgetting, latency, overfitting, retrieval_recall,
                                  self_disagreement, stale_facts)
from core.store import Database

Detector = Callable[[Evidence], list[Finding]]

# In the seed's order: the RAG modes, then fine-tuning's, then both.
DETECTORS: tuple[tuple[Mode, Detector], ...] = tuple(
    (module.MODE, module.detect) for module in (retrieval_recall, context_ignored, latency, stale_facts, forgetting,
                                                overfitting, self_disagreement))
MODES: dict[str, Mode] = {mode.key: mode for mode, _ in DETECTORS}


@dataclass(frozen=True)
class Diagnosis:
    run_ids: tuple[int, ...]
    findings: tuple[Finding, ...]  # each mode at least once: found, not found, or cannot tell

    def with_status(self, status: Status) -> list[Finding]:
        return [finding for finding in self.findings if finding.status is status]

    def as_dict(self) -> dict:
        return {"runs": list(self.run_ids), "findings": [finding.as_dict() for finding in self.findings]}


def diagnose(db: Database, run_ids: Optional[Sequence[int]] = None, session_id: Optional[int] = None,
             modes: Sequence[str] = ()) -> Diagnosis:
    """Every detector (or those `modes` names) over the runs named, a decision session's runs, or the newest."""
    return diagnose_evidence(load_evidence(db, run_ids, session_id), modes)


def diagnose_evidence(evidence: Evidence, modes: Sequence[str] = ()) -> Diagnosis:
    findings = [finding for mode, detect in DETECTORS if not modes or mode.key in modes
                for finding in detect(evidence)]
    return Diagnosis(tuple(evidence.run_ids), tuple(findings))
