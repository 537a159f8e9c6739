"""The one seam to the database: an engine built from a URL, sessions, and
driver errors translated into messages a user can act on.

SQLite runs in WAL mode with a busy timeout so the Streamlit server, the CLI
and background workers can share one file. PostgreSQL (`postgresql+psycopg://`)
serves a team's several machines; its sessions keep SQLite's guarantee that a
writing transaction runs alone (see `Database.session`).
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Iterator

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlmodel import Session, create_engine

from core.errors import StoreError
from core.settings import get_settings
from core.store.migrations import apply_migrations

BUSY_TIMEOUT_MS = 5000
# The key of the PostgreSQL advisory lock a writing transaction holds until it ends.
WRITE_LOCK_KEY = 0x5241_4754  # "RAGT"


class Database:
    """An engine plus the translation of driver errors into `StoreError`."""

    def __init__(self, url: str):
        self.url = url
        try:
            self.engine = _create_engine(url)
        except ArgumentError as exc:  # NoSuchModuleError too; the URL is not shown: it may hold a password
            raise StoreError(f"DATABASE_URL is not a database URL this lab can use ({exc}): use e.g. "
                             "sqlite:////srv/lab/lab.db, or unset it to keep the database in the data dir.") from exc
        except OSError as exc:
            raise StoreError(f"Cannot make the database's folder {exc.filename} ({exc.strerror or exc}): point "
                             "RAGTUNE_DATA_DIR (or DATABASE_URL) at a folder that can be written.") from exc

    @property
    def location(self) -> str:
        """The SQLite file, or the server's URL without its password."""
        if self.is_postgresql:
            return self.engine.url.render_as_string(hide_password=True)
        return self.engine.url.database or self.url

    @property
    def is_postgresql(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def json_elements(self, array_column: str) -> str:
        """SQL for a FROM item with one row per element of a JSON array column, as `element.value`."""
        if self.is_postgresql:
            return f"json_array_elements_text({array_column}) AS element(value)"
        return f"json_each({array_column}) AS element"

    def migrate(self) -> list[str]:
        """Apply pending migrations; returns the names applied now."""
        with self.translated_errors():
            return apply_migrations(self.engine)

    @contextmanager
    def session(self, immediate: bool = True) -> Iterator[Session]:
        """A session committed on success and rolled back on any error.

        `immediate` takes the write lock when the transaction begins (SQLite's, waiting up to the
        busy timeout for it; on PostgreSQL an advisory lock), so what the transaction read stays
        true until it commits: claiming the last free job slot, the next generation number. On
        SQLite a transaction that began with a read and then writes cannot wait: once another
        connection has committed since its read, SQLite refuses the write at once ("database is
        locked"). Pass `immediate=False` only for a session that never writes, so it reads beside
        the writers."""
        bind = self.engine.execution_options(immediate=True) if immediate else self.engine
        with self.translated_errors(), Session(bind, expire_on_commit=False) as session:
            yield session
            session.commit()

    @contextmanager
    def translated_errors(self) -> Iterator[None]:
        try:
            yield
        except DBAPIError as exc:
            raise StoreError(describe_driver_error(exc.orig, self.location)) from exc
        except sqlite3.Error as exc:
            raise StoreError(describe_driver_error(exc, self.location)) from exc


def describe_driver_error(error: BaseException | None, location: str) -> str:
    text = str(error).lower()
    if "readonly" in text or "read-only" in text:
        return (
            f"The database {location} is read-only, so nothing was saved. "
            "Make the file writable, or point DATABASE_URL at a writable database."
        )
    if "not a database" in text or "malformed" in text:
        return (
            f"The database file {location} is not a valid SQLite database (corrupt, or another "
            "kind of file). It was left untouched: move it aside or restore a backup, then reload."
        )
    if "unable to open" in text:
        return f"Cannot open the database {location}: check that its folder exists and is writable."
    if "locked" in text or "busy" in text:
        return f"The database {location} stayed busy for {BUSY_TIMEOUT_MS / 1000:.0f} s; try again."
    return f"Database error on {location}: {error}"


def _create_engine(url: str) -> Engine:
    if url.startswith("postgresql"):
        # Timestamps come back in UTC, as they were written.
        engine = create_engine(url, pool_pre_ping=True, connect_args={"options": "-c timezone=UTC"})
        event.listen(engine, "begin", _lock_postgresql_writes)
        return engine
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000})
    database = engine.url.database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    event.listen(engine, "connect", _configure_sqlite_connection)
    event.listen(engine, "begin", _begin_sqlite_transaction)
    return engine


def _configure_sqlite_connection(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys = ON")
    try:
        _enable_wal(cursor)
    finally:
        cursor.close()
    # The sqlite3 module defers BEGIN until the first write, so a transaction's
    # reads are not isolated from another process's writes; SQLAlchemy's
    # "begin" event issues BEGIN (or BEGIN IMMEDIATE) itself instead.
    dbapi_connection.isolation_level = None


def _enable_wal(cursor) -> None:
    """Switching a new file to WAL needs it alone for a moment, and SQLite does not apply the busy
    timeout to that: another process opening the same new file at once gets "locked" at once."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            message = str(exc).lower()
            if "readonly" in message:  # a read-only database still serves reads
                return
            if "locked" not in message or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _begin_sqlite_transaction(connection) -> None:
    immediate = connection.get_execution_options().get("immediate", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _lock_postgresql_writes(connection) -> None:
    if connection.get_execution_options().get("immediate", False):
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITE_LOCK_KEY})")


@lru_cache(maxsize=8)
def open_database(url: str) -> Database:
    """The migrated database for `url`, shared per process."""
    database = Database(url)
    database.migrate()
    return database


def current_database() -> Database:
    """The migrated database the environment's settings point at."""
    return open_database(get_settings().database_url)
