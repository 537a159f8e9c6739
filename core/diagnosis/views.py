"""A diagnosis as rows for the Diagnose page and as markdown for the CLI, exports and the decision report."""

from __future__ import annotations

from typing import Any, Optional

from core.diagnosis.bearing import bearing, bearing_lines
from core.diagnosis.diagnose import Diagnosis, diagnose
from core.diagnosis.finding import Finding, Status
from core.store import Database
from core.store.tables import DecisionSession

STATUS_MARKS = {Status.FOUND: "FOUND", Status.NOT_FOUND: "not found", Status.CANNOT_TELL: "cannot tell"}


def finding_rows(diagnosis: Diagnosis, recommendation: Optional[str] = None) -> list[dict[str, Any]]:
    """One row per finding, numbered as `python -m core diagnose --act N` counts them."""
    return [{"#": number, "status": STATUS_MARKS[f.status], "mode": f.mode.title, "approach": f.mode.approach,
             "about": f.subject or "-", "verdict": bearing(f, recommendation) or "-", "summary": f.summary}
            for number, f in enumerate(diagnosis.findings, start=1)]


def figure_rows(finding: Finding) -> list[dict[str, Any]]:
    return [{"figure": figure.name, "value": figure.value, "95% low": figure.low, "95% high": figure.high,
             "n": figure.n, "unit": figure.unit} for figure in finding.figures]


def question_rows(finding: Finding) -> list[dict[str, Any]]:
    return [{"run": q.run_id, "question": q.item_id, "system": q.system, "why": q.note} for q in finding.questions]


def diagnosis_markdown(diagnosis: Diagnosis, recommendation: Optional[str] = None, heading: str = "#") -> str:
    runs = ", ".join(map(str, diagnosis.run_ids)) or "none"
    lines = [f"{heading} Diagnosis", "", f"Runs read: {runs}.", "",
             "| # | status | failure mode | about | summary |", "| --- | --- | --- | --- | --- |"]
    lines += [f"| {row['#']} | {row['status']} | {row['mode']} | {row['about']} | {_cell(row['summary'])} |"
              for row in finding_rows(diagnosis, recommendation)]
    found = diagnosis.with_status(Status.FOUND)
    if found:
        lines += ["", f"{heading}# What to do", ""]
        lines += [f"- {f.mode.title}{f' ({f.subject})' if f.subject else ''}: {f.fix}." for f in found]
    if recommendation and found:
        lines += ["", f"{heading}# How it bears on the verdict", "", *bearing_lines(found, recommendation)]
    return "\n".join(lines) + "\n"


def session_section(db: Database, session: DecisionSession) -> str:
    """The decision report's last section: the diagnosis of the session's runs, each found mode weighed
    against the workshop's verdict."""
    recommendation = (session.verdict or {}).get("recommendation")
    return diagnosis_markdown(diagnose(db, session_id=session.id), recommendation, heading="##")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
