"""Sessions on one SQLite file from several connections: a read-then-write waits its turn, and a read
does not wait for the write lock."""

from __future__ import annotations

import sqlite3
import threading

import pytest
from sqlmodel import select

from core.access import LOCAL_ADMIN
from core.checklist.sessions import create_session, list_sessions
from core.errors import StoreError
from core.evaluation.runs import list_runs
from core.history.views import history_rows
from core.jobs import queue
from core.playground import list_history
from core.rag.knowledge import list_knowledge_bases
from core.store import Database, database
from core.store.tables import DecisionSession


def test_a_session_that_reads_then_writes_waits_for_another_writer_instead_of_failing(db):
    read_done, other_wrote = threading.Event(), threading.Event()
    errors = []

    def read_then_write() -> None:
        try:
            with db.session() as session:
                session.exec(select(DecisionSession)).all()
                read_done.set()
                other_wrote.wait(1.0)  # the other writer is blocked behind this session meanwhile
                session.add(DecisionSession(name="first"))
        except Exception as exc:
            errors.append(exc)

    reader = threading.Thread(target=read_then_write)
    reader.start()
    read_done.wait(5.0)
    with db.session() as session:  # before the fix this committed here, and the reader's write failed at once
        session.add(DecisionSession(name="second"))
    other_wrote.set()
    reader.join()
    assert not errors
    with db.session(immediate=False) as session:
        assert sorted(row.name for row in session.exec(select(DecisionSession))) == ["first", "second"]


@pytest.mark.sqlite_only  # the lock held here is SQLite's; on PostgreSQL the same reads skip the advisory lock
def test_what_the_pages_read_does_not_wait_for_the_write_lock(db, monkeypatch):
    """A job's heartbeat or a vote must not queue behind readers: on a busy shared server every page
    refresh reads, and a read that took the write lock made a worker's write wait past its timeout."""
    monkeypatch.setattr(database, "BUSY_TIMEOUT_MS", 200)  # a read that queued for the lock fails at once
    impatient = Database(db.url)
    with db.session() as session:
        session.add(DecisionSession(name="room"))
    writer = sqlite3.connect(db.location)
    writer.execute("BEGIN IMMEDIATE")  # another process writing, for as long as the reads take
    try:
        assert queue.list_jobs(impatient) == []
        assert [s.name for s in list_sessions(impatient)] == ["room"]
        assert list_runs(impatient) == [] and history_rows(impatient) == []
        assert list_knowledge_bases(impatient) == [] and list_history(impatient) == []
        with pytest.raises(StoreError, match="stayed busy"):  # a write still waits its turn
            create_session(impatient, "another room", actor=LOCAL_ADMIN)
    finally:
        writer.rollback()
        writer.close()
