"""What a team member sees first on Home: the jobs running now (re-read every few seconds), the latest
runs with their headline scores, the decision sessions and their verdicts, and whether the lab is still
empty (then the demo is one button away). Plain rows, read from the store (no Streamlit here)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from sqlmodel import func, select

from core.checklist.sessions import list_sessions
from core.checklist.views import recent_session_rows
from core.evaluation.catalog import HEADLINE_METRICS
from core.evaluation.runs import list_runs
from core.evaluation.views import format_estimate
from core.jobs import queue, scheduler
from core.store import Database
from core.store.tables import DecisionSession, EvalRun, EvalSet, Job, KnowledgeBase

LATEST_RUNS = 5


@dataclass(frozen=True)
class TeamOverview:
    latest_runs: list[dict[str, Any]]  # one row per system of the newest finished runs
    sessions: list[dict[str, Any]]  # the newest decision sessions with their verdicts
    is_empty: bool  # no session, knowledge base, eval set or run yet


def team_overview(db: Database) -> TeamOverview:
    finished = [run for run, _ in list_runs(db, limit=50) if run.finished_at is not None][:LATEST_RUNS]
    return TeamOverview(latest_run_rows(finished), recent_session_rows(list_sessions(db)), is_empty=_is_empty(db))


def running_jobs(db: Database) -> list[Job]:
    """Queued and running jobs, oldest first; a worker that died shows as interrupted, so not here."""
    scheduler.refresh(db)
    return sorted(queue.list_jobs(db, statuses=queue.ACTIVE), key=lambda job: job.id)


def latest_run_rows(runs: Sequence[EvalRun]) -> list[dict[str, Any]]:
    """Per run and system: the first headline metric the run has, with its interval."""
    rows = []
    for run in runs:
        for system, stats in run.summary.items():
            metric = next((name for name in HEADLINE_METRICS if name in stats["metrics"]), None)
            rows.append({"Run": run.id, "Eval set": run.eval_set, "System": system,
                         "Headline metric": metric or "-",
                         "Score [95% interval]": format_estimate(stats["metrics"][metric]) if metric else "-",
                         "Failed answers": stats["failed"], "By": run.created_by,
                         "Finished (UTC)": f"{run.finished_at:%Y-%m-%d %H:%M}"})
    return rows


def job_line(job: Job) -> str:
    return (f"Job {job.id} · {job.title} · {job.status} · by {job.created_by}"
            + (f" · {job.progress_text}" if job.progress_text else ""))


def _is_empty(db: Database) -> bool:
    with db.session(immediate=False) as session:
        return not any(session.exec(select(func.count()).select_from(table)).one()
                       for table in (DecisionSession, KnowledgeBase, EvalSet, EvalRun))
