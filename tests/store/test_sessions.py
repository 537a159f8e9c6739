"""Sessions on one SQLite file from several connections: a read-then-write waits its turn."""

from __future__ import annotations

import threading

from sqlmodel import select

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
