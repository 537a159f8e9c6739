"""Append-only, named schema migrations.

Each migration runs once, in its own transaction, and is recorded in the
`_migrations` table. Never edit or reorder a migration that has shipped: add
a new one. `tests/store/test_migrations.py` checks that applying them all
yields exactly the schema the SQLModel tables in `core.store.tables` declare.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import inspect
from sqlalchemy.engine import Engine


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
)


def apply_migrations(engine: Engine, migrations: tuple[Migration, ...] = MIGRATIONS) -> list[str]:
    """Apply the migrations not yet recorded; returns the names applied now."""
    applied_now = []
    with engine.begin() as conn:
        done = _recorded_migrations(conn)
    for migration in migrations:
        if migration.name in done:
            continue
        with engine.begin() as conn:
            if not _has_migrations_table(conn):
                conn.exec_driver_sql(
                    "CREATE TABLE _migrations (name VARCHAR NOT NULL PRIMARY KEY, applied_at DATETIME NOT NULL)"
                )
            for statement in migration.statements:
                conn.exec_driver_sql(statement)
            conn.exec_driver_sql(
                "INSERT INTO _migrations (name, applied_at) VALUES (?, ?)",
                (migration.name, datetime.now(timezone.utc).isoformat()),
            )
        applied_now.append(migration.name)
    return applied_now


def _has_migrations_table(conn) -> bool:
    return inspect(conn).has_table("_migrations")


def _recorded_migrations(conn) -> set[str]:
    if not _has_migrations_table(conn):
        return set()
    return {row[0] for row in conn.exec_driver_sql("SELECT name FROM _migrations")}
