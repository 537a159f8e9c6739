"""Append-only, named schema migrations.

Each migration runs once and is recorded in the `_migrations` table. Several
processes (the app, the CLI, job workers) may open a fresh database at the
same moment: all pending migrations apply inside one write transaction (SQLite's
`BEGIN IMMEDIATE`, PostgreSQL's write lock: see `core.store.database`) that re-reads
what is already applied, so the second process waits, finds them done and applies
nothing. Never edit or reorder a migration that has shipped: add a new one.

Migrations are written in SQLite's dialect; `in_postgresql` respells the few
words PostgreSQL spells differently, so both stores get the same schema.
`tests/store/test_migrations.py` checks that applying them all yields exactly the
schema the SQLModel tables in `core.store.tables` declare, on both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine


@dataclass(frozen=True)
class Migration:
    name: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        "m001_decision_sessions",
        (
            """CREATE TABLE decision_sessions (
                id INTEGER NOT NULL PRIMARY KEY,
                name VARCHAR NOT NULL UNIQUE COLLATE NOCASE,
                context VARCHAR NOT NULL DEFAULT '',
                verdict JSON,
                created_at DATETIME NOT NULL,
                updated_at DATETIME NOT NULL
            )""",
            """CREATE TABLE decision_answers (
                id INTEGER NOT NULL PRIMARY KEY,
                session_id INTEGER NOT NULL REFERENCES decision_sessions (id) ON DELETE CASCADE,
                participant VARCHAR NOT NULL,
                question VARCHAR NOT NULL,
                answer VARCHAR NOT NULL,
                answered_at DATETIME NOT NULL,
                UNIQUE (session_id, participant, question)
            )""",
            "CREATE INDEX ix_decision_answers_session_id ON decision_answers (session_id)",
        ),
    ),
    Migration(
        "m002_playground",
        (
            """CREATE TABLE playground_questions (
                id INTEGER NOT NULL PRIMARY KEY,
                question VARCHAR NOT NULL,
                system_prompt VARCHAR NOT NULL DEFAULT '',
                options JSON NOT NULL,
                asked_at DATETIME NOT NULL
            )""",
            """CREATE TABLE playground_answers (
                id INTEGER NOT NULL PRIMARY KEY,
                question_id INTEGER NOT NULL REFERENCES playground_questions (id) ON DELETE CASCADE,
                position INTEGER NOT NULL,
                system VARCHAR NOT NULL,
                model VARCHAR NOT NULL,
                text VARCHAR NOT NULL,
                input_tokens INTEGER NOT NULL,
                output_tokens INTEGER NOT NULL,
                latency_ms FLOAT NOT NULL,
                cost_usd FLOAT NOT NULL,
                error VARCHAR,
                warnings JSON NOT NULL,
                retrieval_ms FLOAT,
                citations JSON NOT NULL,
                answered_at DATETIME NOT NULL
            )""",
            "CREATE INDEX ix_playground_answers_question_id ON playground_answers (question_id)",
        ),
    ),
    Migration(
        "m003_knowledge_bases",
        (
            """CREATE TABLE knowledge_bases (
                id INTEGER NOT NULL PRIMARY KEY,
                name VARCHAR NOT NULL UNIQUE,
                config JSON NOT NULL,
                status VARCHAR NOT NULL,
                error VARCHAR,
                generation INTEGER NOT NULL,
                file_count INTEGER NOT NULL,
                chunk_count INTEGER NOT NULL,
                skipped JSON NOT NULL,
                size_bytes INTEGER NOT NULL,
                created_at DATETIME NOT NULL,
                last_indexed_at DATETIME
            )""",
        ),
    ),
    Migration(
        "m004_jobs_and_fine_tuning",
        (
            """CREATE TABLE jobs (
                id INTEGER NOT NULL PRIMARY KEY,
                kind VARCHAR NOT NULL,
                status VARCHAR NOT NULL,
                title VARCHAR NOT NULL,
                config JSON NOT NULL,
                pid INTEGER,
                log_path VARCHAR NOT NULL,
                command JSON NOT NULL,
                heartbeat_at DATETIME,
                progress FLOAT NOT NULL,
                progress_text VARCHAR NOT NULL,
                error VARCHAR,
                cancel_requested BOOLEAN NOT NULL,
                result JSON NOT NULL,
                attempts INTEGER NOT NULL,
                created_at DATETIME NOT NULL,
                started_at DATETIME,
                finished_at DATETIME
            )""",
            "CREATE INDEX ix_jobs_status ON jobs (status)",
            """CREATE TABLE job_metrics (
                id INTEGER NOT NULL PRIMARY KEY,
                job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
                step INTEGER NOT NULL,
                name VARCHAR NOT NULL,
                value FLOAT NOT NULL,
                recorded_at DATETIME NOT NULL,
                UNIQUE (job_id, step, name)
            )""",
            "CREATE INDEX ix_job_metrics_job_id ON job_metrics (job_id)",
            """CREATE TABLE datasets (
                id INTEGER NOT NULL PRIMARY KEY,
                name VARCHAR NOT NULL UNIQUE,
                source VARCHAR NOT NULL,
                source_format VARCHAR NOT NULL,
                folder VARCHAR NOT NULL,
                train_count INTEGER NOT NULL,
                validation_count INTEGER NOT NULL,
                details JSON NOT NULL,
                created_at DATETIME NOT NULL
            )""",
            """CREATE TABLE adapters (
                id INTEGER NOT NULL PRIMARY KEY,
                name VARCHAR NOT NULL UNIQUE,
                path VARCHAR NOT NULL,
                base_model VARCHAR NOT NULL,
                dataset VARCHAR NOT NULL,
                job_id INTEGER REFERENCES jobs (id) ON DELETE SET NULL,
                config JSON NOT NULL,
                final_validation_loss FLOAT,
                size_bytes INTEGER NOT NULL,
                train_seconds FLOAT NOT NULL,
                cost_usd FLOAT NOT NULL,
                merged_path VARCHAR,
                created_at DATETIME NOT NULL
            )""",
        ),
    ),
    Migration(
        "m005_eval_sets",
        (
            """CREATE TABLE eval_sets (
                id INTEGER NOT NULL PRIMARY KEY,
                name VARCHAR NOT NULL UNIQUE,
                source VARCHAR NOT NULL,
                sha256 VARCHAR NOT NULL,
                item_count INTEGER NOT NULL,
                created_at DATETIME NOT NULL
            )""",
            """CREATE TABLE eval_items (
                id INTEGER NOT NULL PRIMARY KEY,
                set_id INTEGER NOT NULL REFERENCES eval_sets (id) ON DELETE CASCADE,
                position INTEGER NOT NULL,
                item_id VARCHAR NOT NULL,
                question VARCHAR NOT NULL,
                reference_answer VARCHAR,
                kind VARCHAR,
                relevant_sources JSON NOT NULL,
                keywords JSON NOT NULL,
                tags JSON NOT NULL,
                UNIQUE (set_id, item_id)
            )""",
            "CREATE INDEX ix_eval_items_set_id ON eval_items (set_id)",
            """CREATE TABLE eval_runs (
                id INTEGER NOT NULL PRIMARY KEY,
                job_id INTEGER REFERENCES jobs (id) ON DELETE SET NULL,
                eval_set VARCHAR NOT NULL,
                systems JSON NOT NULL,
                metrics JSON NOT NULL,
                judge VARCHAR,
                options JSON NOT NULL,
                system_configs JSON NOT NULL,
                git_revision VARCHAR NOT NULL,
                summary JSON NOT NULL,
                pairwise JSON NOT NULL,
                created_at DATETIME NOT NULL,
                finished_at DATETIME
            )""",
            """CREATE TABLE eval_results (
                id INTEGER NOT NULL PRIMARY KEY,
                run_id INTEGER NOT NULL REFERENCES eval_runs (id) ON DELETE CASCADE,
                item_id VARCHAR NOT NULL,
                position INTEGER NOT NULL,
                system VARCHAR NOT NULL,
                model VARCHAR NOT NULL,
                text VARCHAR NOT NULL,
                input_tokens INTEGER NOT NULL,
                output_tokens INTEGER NOT NULL,
                latency_ms FLOAT NOT NULL,
                batch_share_ms FLOAT NOT NULL,
                cost_usd FLOAT NOT NULL,
                error VARCHAR,
                warnings JSON NOT NULL,
                retrieval_ms FLOAT,
                citations JSON NOT NULL,
                contexts JSON NOT NULL,
                answered_at DATETIME NOT NULL,
                UNIQUE (run_id, system, item_id)
            )""",
            "CREATE INDEX ix_eval_results_run_id ON eval_results (run_id)",
            """CREATE TABLE eval_scores (
                id INTEGER NOT NULL PRIMARY KEY,
                run_id INTEGER NOT NULL REFERENCES eval_runs (id) ON DELETE CASCADE,
                result_id INTEGER NOT NULL REFERENCES eval_results (id) ON DELETE CASCADE,
                system VARCHAR NOT NULL,
                metric VARCHAR NOT NULL,
                value FLOAT,
                reason VARCHAR,
                UNIQUE (result_id, metric)
            )""",
            "CREATE INDEX ix_eval_scores_run_id ON eval_scores (run_id)",
            """CREATE TABLE eval_labels (
                id INTEGER NOT NULL PRIMARY KEY,
                run_id INTEGER NOT NULL REFERENCES eval_runs (id) ON DELETE CASCADE,
                result_id INTEGER NOT NULL REFERENCES eval_results (id) ON DELETE CASCADE,
                reviewer VARCHAR NOT NULL,
                label VARCHAR NOT NULL,
                comment VARCHAR NOT NULL,
                labelled_at DATETIME NOT NULL,
                UNIQUE (result_id, reviewer)
            )""",
            "CREATE INDEX ix_eval_labels_run_id ON eval_labels (run_id)",
        ),
    ),
    Migration(
        "m006_reference_contexts_and_run_sessions",
        (
            "ALTER TABLE eval_items ADD COLUMN reference_contexts JSON NOT NULL DEFAULT '[]'",
            "ALTER TABLE eval_runs ADD COLUMN decision_session_id INTEGER "
            "REFERENCES decision_sessions (id) ON DELETE SET NULL",
        ),
    ),
    Migration(
        "m007_baselines_and_index_times",
        (
            "ALTER TABLE eval_runs ADD COLUMN is_baseline BOOLEAN NOT NULL DEFAULT 0",
            "ALTER TABLE knowledge_bases ADD COLUMN index_seconds FLOAT NOT NULL DEFAULT 0",
        ),
    ),
    Migration(
        "m008_evidence_lines",
        ("ALTER TABLE eval_items ADD COLUMN evidence JSON NOT NULL DEFAULT '[]'",),
    ),
    Migration(
        "m009_users_audit_log_and_authors",
        (
            """CREATE TABLE users (
                id INTEGER NOT NULL PRIMARY KEY,
                email VARCHAR NOT NULL UNIQUE COLLATE NOCASE,
                role VARCHAR NOT NULL,
                password_hash VARCHAR,
                disabled BOOLEAN NOT NULL DEFAULT 0,
                failed_sign_ins INTEGER NOT NULL DEFAULT 0,
                last_failed_at DATETIME,
                created_by VARCHAR NOT NULL,
                created_at DATETIME NOT NULL
            )""",
            """CREATE TABLE audit_log (
                id INTEGER NOT NULL PRIMARY KEY,
                actor VARCHAR NOT NULL,
                action VARCHAR NOT NULL,
                target VARCHAR NOT NULL,
                before JSON,
                after JSON,
                at DATETIME NOT NULL
            )""",
            "CREATE INDEX ix_audit_log_at ON audit_log (at)",
            *(f"ALTER TABLE {table} ADD COLUMN created_by VARCHAR NOT NULL DEFAULT 'unknown'"
              for table in ("jobs", "decision_sessions", "knowledge_bases", "adapters", "eval_runs")),
        ),
    ),
    Migration(
        "m010_review_queue",
        (
            """CREATE TABLE review_assignments (
                id INTEGER NOT NULL PRIMARY KEY,
                run_id INTEGER NOT NULL REFERENCES eval_runs (id) ON DELETE CASCADE,
                result_id INTEGER NOT NULL REFERENCES eval_results (id) ON DELETE CASCADE,
                reviewer VARCHAR NOT NULL,
                position INTEGER NOT NULL,
                created_by VARCHAR NOT NULL,
                created_at DATETIME NOT NULL,
                UNIQUE (result_id, reviewer)
            )""",
            "CREATE INDEX ix_review_assignments_reviewer ON review_assignments (reviewer, run_id)",
            """CREATE TABLE settled_labels (
                id INTEGER NOT NULL PRIMARY KEY,
                run_id INTEGER NOT NULL REFERENCES eval_runs (id) ON DELETE CASCADE,
                result_id INTEGER NOT NULL UNIQUE REFERENCES eval_results (id) ON DELETE CASCADE,
                label VARCHAR NOT NULL,
                comment VARCHAR NOT NULL,
                created_by VARCHAR NOT NULL,
                created_at DATETIME NOT NULL
            )""",
            "CREATE INDEX ix_settled_labels_run_id ON settled_labels (run_id)",
        ),
    ),
    Migration(
        "m011_dataset_authors",
        tuple(f"ALTER TABLE {table} ADD COLUMN created_by VARCHAR NOT NULL DEFAULT 'unknown'"
              for table in ("datasets", "eval_sets")),
    ),
    Migration(
        "m012_job_targets_and_runners",
        ("ALTER TABLE jobs ADD COLUMN target VARCHAR",
         "ALTER TABLE jobs ADD COLUMN runner VARCHAR NOT NULL DEFAULT 'local'",
         "ALTER TABLE jobs ADD COLUMN runner_ref VARCHAR"),
    ),
    Migration(
        "m013_run_eval_set_hash",
        ("ALTER TABLE eval_runs ADD COLUMN eval_set_id INTEGER",
         "ALTER TABLE eval_runs ADD COLUMN eval_set_sha256 VARCHAR"),
    ),
)


# (SQLite's words, PostgreSQL's): an integer primary key numbers itself in SQLite only,
# and NOCASE becomes a case-insensitive ICU collation that PostgreSQL's unique constraints honour.
POSTGRESQL_SPELLING = (
    (r"\bINTEGER NOT NULL PRIMARY KEY\b", "INTEGER GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"),
    (r"\bDATETIME\b", "TIMESTAMP WITH TIME ZONE"),
    (r"\bBOOLEAN NOT NULL DEFAULT 0\b", "BOOLEAN NOT NULL DEFAULT false"),
    (r"\bCOLLATE NOCASE\b", "COLLATE nocase"),
)
POSTGRESQL_PREAMBLE = ("CREATE COLLATION IF NOT EXISTS nocase "
                       "(provider = icu, locale = 'und-u-ks-level2', deterministic = false)",)
MIGRATIONS_TABLE = ("CREATE TABLE IF NOT EXISTS _migrations "
                    "(name VARCHAR NOT NULL PRIMARY KEY, applied_at DATETIME NOT NULL)")


def in_postgresql(statement: str) -> str:
    for sqlite_words, postgresql_words in POSTGRESQL_SPELLING:
        statement = re.sub(sqlite_words, postgresql_words, statement)
    return statement


def apply_migrations(engine: Engine, migrations: tuple[Migration, ...] = MIGRATIONS) -> list[str]:
    """Apply the migrations not yet recorded; returns the names applied now."""
    # immediate: the write lock is taken before reading which migrations are applied
    with engine.execution_options(immediate=True).begin() as conn:
        return _apply_pending(conn, migrations)


def _apply_pending(conn: Connection, migrations: tuple[Migration, ...]) -> list[str]:
    postgresql = conn.dialect.name == "postgresql"

    def execute(statement: str) -> None:
        conn.exec_driver_sql(in_postgresql(statement) if postgresql else statement)

    for statement in POSTGRESQL_PREAMBLE if postgresql else ():
        execute(statement)
    execute(MIGRATIONS_TABLE)
    done = {row[0] for row in conn.execute(text("SELECT name FROM _migrations"))}
    applied_now = []
    for migration in migrations:
        if migration.name in done:
            continue
        for statement in migration.statements:
            execute(statement)
        conn.execute(text("INSERT INTO _migrations (name, applied_at) VALUES (:name, :at)"),
                     {"name": migration.name, "at": datetime.now(timezone.utc).isoformat()})
        applied_now.append(migration.name)
    return applied_now
