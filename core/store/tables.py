"""SQLModel tables: the shape of everything the lab remembers.

A table added here needs a migration in `core.store.migrations` that creates
it; the migration test fails until both agree.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Optional

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(moment: Optional[datetime]) -> Optional[datetime]:
    """SQLite hands datetimes back without their zone; they were written in UTC."""
    return moment.replace(tzinfo=timezone.utc) if moment and moment.tzinfo is None else moment


class DecisionSession(SQLModel, table=True):
    """A named decision workshop, e.g. "Support bot, Q3"."""

    __tablename__ = "decision_sessions"

    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(sa_column_kwargs={"unique": True})
    context: str = ""
    created_by: str = "unknown"  # who made it: an email, "local" (the operator's shell), "anyone" (no sign-in)
    # The room's verdict, recomputed and stored on every answer so later pages
    # (evaluation, fine-tuning) can start from its experiment plan.
    verdict: Optional[dict[str, Any]] = Field(default=None, sa_column=Column(JSON))
    created_at: datetime = Field(default_factory=utc_now)
    updated_at: datetime = Field(default_factory=utc_now)


class DecisionAnswer(SQLModel, table=True):
    """One participant's answer to one question of a session."""

    __tablename__ = "decision_answers"
    __table_args__ = (UniqueConstraint("session_id", "participant", "question"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    session_id: int = Field(foreign_key="decision_sessions.id", index=True, ondelete="CASCADE")
    participant: str
    question: str
    answer: str
    answered_at: datetime = Field(default_factory=utc_now)


class RecordedAnswer(SQLModel):
    """What one system answered to one question: the shape every place that
    records answers shares (the Playground now, evaluation runs later)."""

    system: str  # the system spec string, e.g. "local:smollm2?dtype=bfloat16"
    model: str = ""  # the model id the backend reported; empty when it failed
    text: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    latency_ms: float = 0.0
    cost_usd: float = 0.0
    error: Optional[str] = None  # set when the system failed; the other fields then stay empty
    warnings: list[str] = Field(default_factory=list, sa_type=JSON)
    retrieval_ms: Optional[float] = None  # RAG systems: the part of latency_ms spent retrieving
    # RAG systems: the cited chunks, {"number", "source", "start_line", "end_line", "text"} each
    citations: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    answered_at: datetime = Field(default_factory=utc_now)


class PlaygroundQuestion(SQLModel, table=True):
    """One question asked in the Playground, to several systems at once."""

    __tablename__ = "playground_questions"

    id: Optional[int] = Field(default=None, primary_key=True)
    question: str
    system_prompt: str = ""
    options: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    asked_at: datetime = Field(default_factory=utc_now)


class PlaygroundAnswer(RecordedAnswer, table=True):
    """One system's answer (or failure) to a Playground question."""

    __tablename__ = "playground_answers"

    id: Optional[int] = Field(default=None, primary_key=True)
    question_id: int = Field(foreign_key="playground_questions.id", index=True, ondelete="CASCADE")
    position: int = 0  # the column the system was in


class KnowledgeBase(SQLModel, table=True):
    """A named, indexed collection of documents (a folder, a git revision or uploads)."""

    __tablename__ = "knowledge_bases"

    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(sa_column_kwargs={"unique": True})
    created_by: str = "unknown"  # who made it: an email, "local" (the operator's shell), "anyone" (no sign-in)
    # The validated `core.rag.config.KnowledgeBaseConfig`, so a re-index uses the same settings.
    config: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = "indexing"  # indexing | ready | failed
    # The last indexing error; a failed re-index keeps status "ready" on the previous generation.
    error: Optional[str] = None
    generation: int = 0  # which Chroma collection / BM25 folder is live
    file_count: int = 0
    chunk_count: int = 0
    skipped: list[dict[str, str]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    size_bytes: int = 0
    index_seconds: float = 0.0  # the last (re-)index's wall time: what updating the facts costs
    created_at: datetime = Field(default_factory=utc_now)
    last_indexed_at: Optional[datetime] = None


class Job(SQLModel, table=True):
    """A background job: a row plus a worker subprocess (`core.jobs`). Training, indexing,
    eval runs and the other long tasks all run this way."""

    __tablename__ = "jobs"

    id: Optional[int] = Field(default=None, primary_key=True)
    kind: str  # a key of `core.jobs.kinds.KINDS`, e.g. "train"
    created_by: str = "unknown"  # who submitted it: an email, "local" (the operator's shell), "anyone" (no sign-in)
    # queued | running | succeeded | failed | cancelled | interrupted (see `core.jobs.queue`)
    status: str = Field(default="queued", index=True)
    title: str = ""  # what the job is, in a line a person reads, e.g. "train house-style on smollm2"
    target: Optional[str] = None  # what it writes, e.g. "knowledge base docs": one active job per kind and target
    config: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    runner: str = "local"  # where its worker runs: "local", or a Ray cluster's address (core.jobs.runners)
    runner_ref: Optional[str] = None  # the Ray submission id
    pid: Optional[int] = None
    log_path: str = ""
    command: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    heartbeat_at: Optional[datetime] = None
    progress: float = 0.0  # 0..1
    progress_text: str = ""
    error: Optional[str] = None
    cancel_requested: bool = False
    # What the job produced, e.g. {"adapter": "house-style"}; kind-specific.
    result: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    attempts: int = 0  # how many times a worker started it (a resume adds one)
    created_at: datetime = Field(default_factory=utc_now)
    started_at: Optional[datetime] = None
    finished_at: Optional[datetime] = None


class JobMetric(SQLModel, table=True):
    """One number a job reported at one step, e.g. ("train_loss", step 12, 2.31).

    One row per (job, step, name): a resumed job that repeats a step since its
    last checkpoint replaces that step's numbers, so a curve never doubles back."""

    __tablename__ = "job_metrics"
    __table_args__ = (UniqueConstraint("job_id", "step", "name"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    job_id: int = Field(foreign_key="jobs.id", index=True, ondelete="CASCADE")
    step: int
    name: str
    value: float
    recorded_at: datetime = Field(default_factory=utc_now)


class FineTuneDataset(SQLModel, table=True):
    """A validated fine-tuning dataset: chat examples in files under the data dir."""

    __tablename__ = "datasets"

    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(sa_column_kwargs={"unique": True})
    created_by: str = "unknown"  # who made it: an email, "local" (the operator's shell), "anyone" (no sign-in)
    source: str  # import | git | kb | preferences
    source_format: str  # the format detected on import (alpaca | messages | prompt_completion), or the builder
    # holds train.jsonl and validation.jsonl in the chat `messages` format (preferences: prompt/chosen/rejected)
    folder: str
    train_count: int = 0
    validation_count: int = 0
    # How it was built (file, repo and revision, knowledge base and system, seed, split) and its
    # token-length statistics and leakage report, as shown on the page.
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utc_now)


class Adapter(SQLModel, table=True):
    """A trained LoRA adapter, registered so `local?adapter=NAME` finds it."""

    __tablename__ = "adapters"

    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(sa_column_kwargs={"unique": True})
    created_by: str = "unknown"  # who made it: an email, "local" (the operator's shell), "anyone" (no sign-in)
    path: str
    base_model: str
    dataset: str
    job_id: Optional[int] = Field(default=None, foreign_key="jobs.id", ondelete="SET NULL")
    config: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    final_validation_loss: Optional[float] = None
    size_bytes: int = 0
    train_seconds: float = 0.0
    cost_usd: float = 0.0
    merged_path: Optional[str] = None  # a full model folder, once merged on request
    created_at: datetime = Field(default_factory=utc_now)


class EvalSet(SQLModel, table=True):
    """A golden eval set: questions (with references, sources, keywords) every system is asked."""

    __tablename__ = "eval_sets"

    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(sa_column_kwargs={"unique": True})
    created_by: str = "unknown"  # who made it: an email, "local" (the operator's shell), "anyone" (no sign-in)
    source: str  # the file it was imported from, or "upload:<file name>"
    sha256: str  # of the imported text: the same file imported twice is the same set
    item_count: int = 0
    created_at: datetime = Field(default_factory=utc_now)


class EvalItem(SQLModel, table=True):
    """One question of an eval set, as its JSONL line gave it (see eval_sets/README.md)."""

    __tablename__ = "eval_items"
    __table_args__ = (UniqueConstraint("set_id", "item_id"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    set_id: int = Field(foreign_key="eval_sets.id", ondelete="CASCADE", index=True)
    position: int  # its place in the file, from 0
    item_id: str  # the line's `id`
    question: str
    reference_answer: Optional[str] = None
    kind: Optional[str] = None  # factual | behaviour
    relevant_sources: list[str] = Field(default_factory=list, sa_type=JSON)
    keywords: list[str] = Field(default_factory=list, sa_type=JSON)
    tags: list[str] = Field(default_factory=list, sa_type=JSON)
    reference_contexts: list[str] = Field(default_factory=list, sa_type=JSON)
    evidence: list[dict] = Field(default_factory=list, sa_type=JSON)  # {source, start_line, end_line} each


class EvalRun(SQLModel, table=True):
    """One evaluation: an eval set asked of several systems, every answer graded. It runs as a job."""

    __tablename__ = "eval_runs"

    id: Optional[int] = Field(default=None, primary_key=True)
    job_id: Optional[int] = Field(default=None, foreign_key="jobs.id", ondelete="SET NULL")
    eval_set: str  # the set's name when the run was made
    # The set's id and content hash when the run was made (None: a run older than m013, content unknown);
    # a name re-imported with changed questions gets a new hash, so its runs never pair with the old ones.
    eval_set_id: Optional[int] = None
    eval_set_sha256: Optional[str] = None
    created_by: str = "unknown"  # who made it: an email, "local" (the operator's shell), "anyone" (no sign-in)
    systems: list[str] = Field(default_factory=list, sa_type=JSON)  # canonical spec strings, in order
    metrics: list[str] = Field(default_factory=list, sa_type=JSON)
    judge: Optional[str] = None  # the system spec that judges correctness, if any
    options: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # Per system: what the spec resolved to when it ran (model, adapter, knowledge base generation).
    system_configs: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    git_revision: str = ""
    # Per system and metric: mean, 95% bootstrap interval and count; latency percentiles; cost per 1k.
    summary: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # "A vs B": a pairwise judge's wins, ties, failures, position consistency and verdicts.
    pairwise: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # The decision session whose proposed experiment this run carries out, if any.
    decision_session_id: Optional[int] = Field(default=None, foreign_key="decision_sessions.id",
                                               ondelete="SET NULL")
    is_baseline: bool = False  # the run later runs of its eval set are checked against (one per set)
    created_at: datetime = Field(default_factory=utc_now)
    finished_at: Optional[datetime] = None


class EvalResult(RecordedAnswer, table=True):
    """One system's answer to one eval item, with what it was given and how long the batch took."""

    __tablename__ = "eval_results"
    __table_args__ = (UniqueConstraint("run_id", "system", "item_id"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="eval_runs.id", ondelete="CASCADE", index=True)
    item_id: str
    position: int
    # latency_ms is what the asker waited: the whole batch's wall time. This is the answer's share of it.
    batch_share_ms: float = 0.0
    # RAG systems: every retrieved chunk given to the model, {"number", "source", "start_line", "end_line", "text"}
    contexts: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)


class EvalScore(SQLModel, table=True):
    """One metric's score of one answer: a row each, so runs aggregate in SQL. A judge that gave no
    valid verdict leaves `value` empty and says why in `reason`."""

    __tablename__ = "eval_scores"
    __table_args__ = (UniqueConstraint("result_id", "metric"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="eval_runs.id", ondelete="CASCADE", index=True)
    result_id: int = Field(foreign_key="eval_results.id", ondelete="CASCADE")
    system: str
    metric: str
    value: Optional[float] = None
    reason: Optional[str] = None  # a judge's reason for its score, or why it gave none


class EvalLabel(SQLModel, table=True):
    """A reviewer's grade of one answer: the human side of judge-human agreement."""

    __tablename__ = "eval_labels"
    __table_args__ = (UniqueConstraint("result_id", "reviewer"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="eval_runs.id", ondelete="CASCADE", index=True)
    result_id: int = Field(foreign_key="eval_results.id", ondelete="CASCADE")
    reviewer: str
    label: str  # correct | partly | wrong
    comment: str = ""
    labelled_at: datetime = Field(default_factory=utc_now)


class ReviewAssignment(SQLModel, table=True):
    """One answer in one reviewer's review queue, at `position` (the queue's order, which mixes systems)."""

    __tablename__ = "review_assignments"
    __table_args__ = (UniqueConstraint("result_id", "reviewer"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="eval_runs.id", ondelete="CASCADE")
    result_id: int = Field(foreign_key="eval_results.id", ondelete="CASCADE")
    reviewer: str
    position: int
    created_by: str
    created_at: datetime = Field(default_factory=utc_now)


class SettledLabel(SQLModel, table=True):
    """The label an admin chose for an answer its reviewers disagreed on: the one metrics use."""

    __tablename__ = "settled_labels"

    id: Optional[int] = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="eval_runs.id", ondelete="CASCADE", index=True)
    result_id: int = Field(foreign_key="eval_results.id", ondelete="CASCADE", sa_column_kwargs={"unique": True})
    label: str  # correct | partly | wrong
    comment: str = ""
    created_by: str
    created_at: datetime = Field(default_factory=utc_now)

class User(SQLModel, table=True):
    """Someone who signs in: by password (its Argon2 hash here) or through an OIDC provider (no hash)."""

    __tablename__ = "users"

    id: Optional[int] = Field(default=None, primary_key=True)
    email: str = Field(sa_column_kwargs={"unique": True})  # compared without case
    role: str  # viewer | reviewer | admin
    password_hash: Optional[str] = None
    disabled: bool = False
    failed_sign_ins: int = 0  # wrong passwords in a row; each one makes the next try wait longer
    last_failed_at: Optional[datetime] = None
    created_by: str
    created_at: datetime = Field(default_factory=utc_now)


class AuditEntry(SQLModel, table=True):
    """Who did what to which object, and when: appended, never changed."""

    __tablename__ = "audit_log"

    id: Optional[int] = Field(default=None, primary_key=True)
    actor: str  # an email, or "local" for the operator's own shell
    action: str  # e.g. "users.add", "users.role"
    target: str  # e.g. "user ana@example.com"
    before: Optional[dict[str, Any]] = Field(default=None, sa_column=Column(JSON))
    after: Optional[dict[str, Any]] = Field(default=None, sa_column=Column(JSON))
    at: datetime = Field(default_factory=utc_now, index=True)
