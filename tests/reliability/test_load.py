"""Load: job workers and page sessions writing one SQLite file at once, and the model server under
concurrent clients, each for `WINDOW_S`.

The invariants are asserted (no "database is locked", no lost row, every job ended and recorded);
the figures (rows per writer, jobs and how they ended, retries, server latencies) are written as
JSON to the file `RAGTUNE_RELIABILITY_REPORT` names, when set, so the README can quote the last run.
"""

from __future__ import annotations

import json
import os
import threading
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from sqlmodel import col, func, select

from core.access import LOCAL_ADMIN
from core.checklist.instruments import NINE_QUESTIONS, YES_NO_ANSWERS
from core.checklist.sessions import create_session, record_answer
from core.evaluation.labels import LABELS, save_label
from core.evaluation.runs import RunOptions, list_runs, results, save_answers, submit_eval
from core.evaluation.sets import import_eval_set
from core.finetune.job import submit_training
from core.history.views import history_rows
from core.jobs import queue, scheduler
from core.llm.adapters import get_adapter
from core.llm.base import GenerationOptions, Prompt
from core.llm.spec import parse_spec
from core.playground import ask_and_save, list_history
from core.rag.config import KnowledgeBaseConfig
from core.rag.index_job import submit_index, submit_reindex
from core.rag.knowledge import get_knowledge_base
from core.serving.client import ServerBackend
from core.serving.lifecycle import start_server, stop_server
from core.store.tables import (DecisionAnswer, EvalLabel, EvalResult, EvalRun, EvalScore, JobMetric,
                               PlaygroundAnswer, PlaygroundQuestion)
from tests.rag.rag_fixtures import AUTH_PY, README_MD

pytestmark = pytest.mark.reliability

WINDOW_S = 60.0  # how long each load lasts
DRAIN_S = 60.0  # how long the jobs cancelled when the window closes may take to stop
SERVER_CLIENTS = 8
REPORT_ENV = "RAGTUNE_RELIABILITY_REPORT"
LOCK_WORDS = ("database is locked", "stayed busy")
QUESTIONS = ["Capital of France?", "What is RAG?", "Name a colour.", "Two plus two?"]
EVAL_ITEMS = "\n".join(json.dumps({"id": f"q{n}", "question": f"What is fact {n}?", "reference_answer": "Blue."})
                       for n in range(4))


@dataclass
class Writer:
    """One writer's own account: the rows it says it wrote, table by table, and what went wrong."""

    name: str
    rows: Counter = field(default_factory=Counter)
    calls: int = 0
    errors: list[str] = field(default_factory=list)
    job_ids: list[int] = field(default_factory=list)
    deadline: float = 0.0  # when the window closes

    def figures(self) -> dict:
        return {"calls": self.calls, "rows": dict(self.rows), "errors": self.errors[:10], "jobs": self.job_ids}


def keep_doing(writer: Writer, step: Callable[[Writer], None], pause_s: float = 0.0) -> None:
    """Call `step` until the window closes, recording what any call raised (and pausing after it)."""
    while time.monotonic() < writer.deadline:
        try:
            step(writer)
        except Exception as exc:  # the test's verdict, not the thread's end
            writer.errors.append(f"{type(exc).__name__}: {exc} (in {where_in_core(exc)})")
            time.sleep(0.5)
        writer.calls += 1
        time.sleep(pause_s)


def where_in_core(exc: BaseException) -> str:
    """The innermost frames of the lab's own code that the error went through."""
    frames = [frame for frame in traceback.extract_tb(exc.__traceback__) if "/core/" in frame.filename]
    return " < ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(frames[-3:]))


def run_together(work: dict[str, Callable[[Writer], None]], pause_s: float = 0.05) -> list[Writer]:
    """Each writer in a thread of its own, doing its step again and again until the window closes."""
    deadline = time.monotonic() + WINDOW_S
    writers = [Writer(name, deadline=deadline) for name in work]
    threads = [threading.Thread(target=keep_doing, args=(writer, work[writer.name], pause_s), name=writer.name)
               for writer in writers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return writers


def write_report(section: str, figures: dict) -> None:
    """Merge `figures` under `section` into the report file, when one is asked for."""
    path = os.environ.get(REPORT_ENV)
    if not path:
        return
    report = json.loads(Path(path).read_text()) if Path(path).is_file() else {}
    report[section] = {**figures, "window_s": WINDOW_S, "recorded_at": datetime.now(timezone.utc).isoformat()}
    Path(path).write_text(json.dumps(report, indent=2) + "\n")


def count(db, table, *where) -> int:
    with db.session() as session:
        return session.exec(select(func.count()).select_from(table).where(*where)).one()


# --- the job writers: each submits a job, follows it to its end, and submits the next ---

def job_writer(db, submit: Callable[[int], int]) -> Callable[[Writer], None]:
    def step(writer: Writer) -> None:
        job_id = submit(len(writer.job_ids))
        writer.job_ids.append(job_id)
        while queue.get_job(db, job_id).status in queue.ACTIVE and time.monotonic() < writer.deadline:
            time.sleep(0.25)
    return step


def training_submitter(db, training) -> Callable[[int], int]:
    return lambda n: submit_training(db, training(f"load-{n}"), LOCAL_ADMIN).id


def eval_submitter(db, tiny_spec: str) -> Callable[[int], int]:
    return lambda n: submit_eval(db, "load-set", [tiny_spec], ["token_f1"], RunOptions(max_new_tokens=4),
                                 actor=LOCAL_ADMIN).job_id


def index_submitter(db, source: Path) -> Callable[[int], int]:
    def submit(n: int) -> int:
        if n == 0:
            return submit_index(db, "load-kb", KnowledgeBaseConfig(source_path=str(source)), actor=LOCAL_ADMIN)[1].id
        (source / "notes.md").write_text(f"# Notes\n\nRevision {n} of the release notes.\n")  # something to embed
        return submit_reindex(db, "load-kb", actor=LOCAL_ADMIN).id
    return submit


# --- the page sessions: what each page reads and writes ---

def playground_step(db, tiny_spec: str) -> Callable[[Writer], None]:
    def step(writer: Writer) -> None:
        question = QUESTIONS[writer.calls % len(QUESTIONS)]
        exchange = ask_and_save(db, question, [tiny_spec], GenerationOptions(max_new_tokens=4), actor=LOCAL_ADMIN)
        assert not exchange.answers[0].error, exchange.answers[0].error
        writer.rows["playground_questions"] += 1
        writer.rows["playground_answers"] += len(exchange.answers)
        list_history(db)
    return step


def jobs_page_step(db) -> Callable[[Writer], None]:
    def step(writer: Writer) -> None:
        scheduler.refresh(db)
        for job in queue.list_jobs(db, statuses=[queue.RUNNING]):
            queue.latest_metrics(db, job.id)
        list_runs(db)
        history_rows(db)
    return step


def labels_step(db, result_ids: list[int]) -> Callable[[Writer], None]:
    def step(writer: Writer) -> None:
        scheduler.refresh(db)
        save_label(db, result_ids[writer.calls % len(result_ids)], f"reviewer-{writer.calls}",
                   LABELS[writer.calls % len(LABELS)], actor=LOCAL_ADMIN)
        writer.rows["eval_labels"] += 1
    return step


def votes_step(db, session_id: int) -> Callable[[Writer], None]:
    question = f"checklist.{NINE_QUESTIONS[0].key}"

    def step(writer: Writer) -> None:
        scheduler.refresh(db)
        record_answer(db, session_id, f"participant-{writer.calls}", question,
                      YES_NO_ANSWERS[writer.calls % len(YES_NO_ANSWERS)], LOCAL_ADMIN)
        writer.rows["decision_answers"] += 1
    return step


def answered_run(db) -> list[int]:
    """A finished run's answers, for reviewers to label; returns their ids."""
    with db.session() as session:
        run = EvalRun(eval_set="load-set", systems=["local"], metrics=[], finished_at=datetime.now(timezone.utc))
        session.add(run)
    save_answers(db, [EvalResult(run_id=run.id, item_id=f"q{n}", position=n, system="local", text=f"answer {n}")
                      for n in range(4)], [{}] * 4)
    return [result.id for result in results(db, run.id)]


def knowledge_source(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "auth.py").write_text(AUTH_PY)
    (folder / "README.md").write_text(README_MD)
    return folder


def stop_jobs(db) -> list[int]:
    """Cancel what still runs when the window closes and wait for it to stop; returns the ids cancelled."""
    cancelled = [scheduler.cancel(db, job.id).id for job in queue.list_jobs(db, statuses=queue.ACTIVE)]
    deadline = time.monotonic() + DRAIN_S
    while queue.list_jobs(db, statuses=queue.ACTIVE) and time.monotonic() < deadline:
        scheduler.refresh(db)
        time.sleep(0.5)
    return cancelled


def test_workers_and_page_sessions_share_one_sqlite_file_with_no_lock_and_no_lost_row(
        db, training, tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.setenv(scheduler.MAX_JOBS_ENV, "3")  # the three workers run side by side
    tiny = parse_spec(f"local:{tiny_model_dir}?dtype=float32").text
    import_eval_set(db, "load-set", EVAL_ITEMS, "test", actor=LOCAL_ADMIN)
    to_label, room = answered_run(db), create_session(db, "load room", actor=LOCAL_ADMIN).id
    writers = run_together({
        "training worker": job_writer(db, training_submitter(db, training)),
        "eval worker": job_writer(db, eval_submitter(db, tiny)),
        "index worker": job_writer(db, index_submitter(db, knowledge_source(tmp_path))),
        "playground session": playground_step(db, tiny),
        "jobs page session": jobs_page_step(db),
        "labels session": labels_step(db, to_label),
        "votes session": votes_step(db, room),
    })
    closed = time.monotonic()
    cancelled = stop_jobs(db)
    jobs = queue.list_jobs(db)
    for writer in writers:
        writer.rows.update(job_rows(db, [job for job in jobs if job.id in writer.job_ids]))
    write_report("load", {**load_figures(writers, jobs, cancelled), "drain_s": round(time.monotonic() - closed, 1)})

    assert not {w.name: w.errors for w in writers if w.errors}, "a writer failed"
    assert_jobs_ended(jobs, cancelled)
    assert not [line for job in jobs for line in log_lines(job) if any(word in line for word in LOCK_WORDS)]
    assert_rows_kept(db, writers, jobs)


def job_rows(db, jobs) -> Counter:
    """The rows the jobs' workers say they wrote, by what they wrote, from their results."""
    rows = Counter()
    for job in jobs:
        if job.status != queue.SUCCEEDED:
            continue
        if job.kind == "train":
            rows.update(train_loss_steps=job.result["steps"], adapters=1)
        elif job.kind == "eval":
            rows.update(eval_results=job.result["answers"], eval_scores=job.result["answers"])
        elif job.kind == "index":
            rows.update(index_generations=1)
    return rows


def assert_rows_kept(db, writers: list[Writer], jobs) -> None:
    said = sum((writer.rows for writer in writers), Counter())
    found = {
        "playground_questions": count(db, PlaygroundQuestion), "playground_answers": count(db, PlaygroundAnswer),
        "eval_labels": count(db, EvalLabel), "decision_answers": count(db, DecisionAnswer),
        "train_loss_steps": count(db, JobMetric, JobMetric.name == "train_loss",
                                  col(JobMetric.job_id).in_(succeeded(jobs, "train"))),
        "adapters": sum(bool(get_adapter(db, job.result["adapter"])) for job in jobs
                        if job.id in succeeded(jobs, "train")),
        "eval_results": count(db, EvalResult, col(EvalResult.run_id).in_(eval_runs(jobs))),
        "eval_scores": count(db, EvalScore, col(EvalScore.run_id).in_(eval_runs(jobs))),
        "index_generations": get_knowledge_base(db, "load-kb").generation,
    }
    assert found == {name: said[name] for name in found}
    assert said["playground_questions"] and said["eval_labels"] and said["decision_answers"]


def succeeded(jobs, kind: str) -> list[int]:
    return [job.id for job in jobs if job.kind == kind and job.status == queue.SUCCEEDED]


def eval_runs(jobs) -> list[int]:
    return [job.result["run_id"] for job in jobs if job.id in succeeded(jobs, "eval")]


def assert_jobs_ended(jobs, cancelled: list[int]) -> None:
    ends = {job.id: (job.kind, job.status, job.error) for job in jobs}
    assert all(status in (queue.SUCCEEDED, queue.CANCELLED) for _, status, _ in ends.values()), ends
    assert {job_id for job_id, (_, status, _) in ends.items() if status == queue.CANCELLED} <= set(cancelled)
    assert {kind for kind, status, _ in ends.values() if status == queue.SUCCEEDED} == {"train", "eval", "index"}


def log_lines(job) -> list[str]:
    path = Path(job.log_path) if job.log_path else None
    return path.read_text(errors="replace").splitlines() if path and path.is_file() else []


def load_figures(writers: list[Writer], jobs, cancelled: list[int]) -> dict:
    return {
        "writers": {writer.name: writer.figures() for writer in writers},
        "jobs": [{"id": job.id, "kind": job.kind, "status": job.status, "error": job.error,
                  "attempts": job.attempts, "seconds": job_seconds(job)} for job in jobs],
        "end_states": dict(Counter(f"{job.kind} {job.status}" for job in jobs)),
        "cancelled_when_the_window_closed": cancelled,
        "retries": {"heartbeats_failed": sum("heartbeat failed" in line for job in jobs for line in log_lines(job)),
                    "jobs_started_again": sum(max(job.attempts - 1, 0) for job in jobs)},
    }


def job_seconds(job) -> float | None:
    if not (job.started_at and job.finished_at):
        return None
    return round((job.finished_at - job.started_at).total_seconds(), 1)


# --- the model server under concurrent clients ---

def test_the_model_server_answers_concurrent_clients_for_the_window_without_an_error(tiny_model_dir):
    spec = parse_spec(f"local:{tiny_model_dir}?dtype=float32")
    record = start_server()
    try:
        ServerBackend(record.url, spec).generate(Prompt.ask("warm up"), GenerationOptions(max_new_tokens=4))
        latencies: dict[str, list[float]] = {}
        writers = run_together({f"client {n}": asking_client(record.url, spec, latencies)
                                for n in range(SERVER_CLIENTS)}, pause_s=0.0)
    finally:
        stop_server()
    every = [ms for client in latencies.values() for ms in client]
    figures = {"clients": SERVER_CLIENTS, "requests": len(every), "errors": [e for w in writers for e in w.errors],
               "p50_ms": round(float(np.percentile(every, 50)), 1) if every else None,
               "p99_ms": round(float(np.percentile(every, 99)), 1) if every else None,
               "requests_per_client": {name: len(ms) for name, ms in latencies.items()}}
    write_report("model_server", figures)
    assert not figures["errors"]
    assert len(latencies) == SERVER_CLIENTS and all(latencies.values())


def asking_client(url: str, spec, latencies: dict[str, list[float]]) -> Callable[[Writer], None]:
    backend = ServerBackend(url, spec, timeout_s=WINDOW_S)

    def step(writer: Writer) -> None:
        completion = backend.generate(Prompt.ask(QUESTIONS[writer.calls % len(QUESTIONS)]),
                                      GenerationOptions(max_new_tokens=8))
        latencies.setdefault(writer.name, []).append(completion.latency_ms)
    return step
