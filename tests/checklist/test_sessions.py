"""Decision sessions in a real SQLite file: saving, reopening, bad input."""


import pytest

from core.access import LOCAL_ADMIN
from core.checklist.report import render_markdown
from core.checklist.sessions import (
    answers_by_participant,
    create_session,
    delete_session,
    get_session,
    list_sessions,
    record_answer,
    remove_participant,
    update_session,
)
from core.cli import main
from core.errors import AlreadyExistsError, InvalidInputError, NotFoundError, StoreError
from core.store import open_database


def test_answers_are_saved_and_the_verdict_stored_with_the_session(db):
    session = create_session(db, "Support bot, Q3", "Answer tickets from the help centre", actor=LOCAL_ADMIN)
    assert session.verdict["recommendation"] == "start_with_rag"
    record_answer(db, session.id, "Ana", "checklist.changes_monthly", "yes", LOCAL_ADMIN)
    record_answer(db, session.id, "Bo", "checklist.changes_monthly", "yes", LOCAL_ADMIN)
    reopened = get_session(db, session.id)
    assert reopened.verdict["recommendation"] == "rag"
    assert reopened.verdict["experiment"]["variants"] == ["base", "rag"]
    assert answers_by_participant(db, session.id) == {
        "Ana": {"checklist.changes_monthly": "yes"}, "Bo": {"checklist.changes_monthly": "yes"}}


def test_changing_and_clearing_an_answer(db):
    session = create_session(db, "Docs assistant", actor=LOCAL_ADMIN)
    record_answer(db, session.id, "Ana", "checklist.changes_monthly", "yes", LOCAL_ADMIN)
    record_answer(db, session.id, "Ana", "checklist.changes_monthly", "no", LOCAL_ADMIN)
    assert answers_by_participant(db, session.id)["Ana"]["checklist.changes_monthly"] == "no"
    record_answer(db, session.id, "Ana", "checklist.changes_monthly", None, LOCAL_ADMIN)
    assert answers_by_participant(db, session.id) == {}


def test_sessions_are_listed_renamed_and_deleted(db):
    first = create_session(db, "First", actor=LOCAL_ADMIN)
    second = create_session(db, "Second", actor=LOCAL_ADMIN)
    record_answer(db, second.id, "Ana", "factor.freshness", "rag", LOCAL_ADMIN)
    summaries = {s.name: s for s in list_sessions(db)}
    assert summaries["Second"].participants == 1 and summaries["First"].participants == 0
    update_session(db, first.id, name="First, renamed", context="why", actor=LOCAL_ADMIN)
    assert get_session(db, first.id).name == "First, renamed"
    remove_participant(db, second.id, "Ana", LOCAL_ADMIN)
    assert answers_by_participant(db, second.id) == {}
    delete_session(db, second.id, LOCAL_ADMIN)
    assert [s.name for s in list_sessions(db)] == ["First, renamed"]


@pytest.mark.parametrize("name", ["", "   "])
def test_an_empty_session_name_is_refused(db, name):
    with pytest.raises(InvalidInputError, match="name"):
        create_session(db, name, actor=LOCAL_ADMIN)
    assert list_sessions(db) == []


def test_a_duplicate_name_is_refused_whatever_its_case(db):
    create_session(db, "Support bot, Q3", actor=LOCAL_ADMIN)
    with pytest.raises(AlreadyExistsError, match="already exists"):
        create_session(db, "  support BOT, q3 ", actor=LOCAL_ADMIN)
    other = create_session(db, "Other", actor=LOCAL_ADMIN)
    with pytest.raises(AlreadyExistsError):
        update_session(db, other.id, name="Support bot, Q3", actor=LOCAL_ADMIN)
    assert len(list_sessions(db)) == 2


def test_a_deleted_session_opened_from_a_stale_link(db):
    session = create_session(db, "Gone soon", actor=LOCAL_ADMIN)
    delete_session(db, session.id, LOCAL_ADMIN)
    with pytest.raises(NotFoundError, match="may have been deleted"):
        get_session(db, session.id)
    with pytest.raises(NotFoundError):
        record_answer(db, session.id, "Ana", "checklist.gpu", "yes", LOCAL_ADMIN)


def test_bad_answers_are_refused(db):
    session = create_session(db, "S", actor=LOCAL_ADMIN)
    with pytest.raises(InvalidInputError, match="your name"):
        record_answer(db, session.id, " ", "checklist.gpu", "yes", LOCAL_ADMIN)
    with pytest.raises(InvalidInputError, match="Unknown question"):
        record_answer(db, session.id, "Ana", "checklist.nope", "yes", LOCAL_ADMIN)
    with pytest.raises(InvalidInputError, match="not an answer"):
        record_answer(db, session.id, "Ana", "checklist.gpu", "rag", LOCAL_ADMIN)


def test_a_read_only_database_refuses_writes_and_keeps_what_was_saved(tmp_path):
    path = tmp_path / "lab.db"
    db = open_database(f"sqlite:///{path}")
    session = create_session(db, "Kept", actor=LOCAL_ADMIN)
    record_answer(db, session.id, "Ana", "checklist.gpu", "no", LOCAL_ADMIN)
    db.engine.dispose()
    read_only = open_database(f"sqlite:///file:{path}?mode=ro&uri=true")
    with pytest.raises(StoreError, match="read-only, so nothing was saved"):
        record_answer(read_only, session.id, "Bo", "checklist.gpu", "yes", LOCAL_ADMIN)
    with pytest.raises(StoreError, match="read-only"):
        create_session(read_only, "New", actor=LOCAL_ADMIN)
    assert answers_by_participant(read_only, session.id) == {"Ana": {"checklist.gpu": "no"}}


def test_a_corrupt_database_file_gets_a_clear_message_and_is_left_untouched(tmp_path):
    path = tmp_path / "lab.db"
    garbage = b"this is not a database " * 200
    path.write_bytes(garbage)
    with pytest.raises(StoreError, match="not a valid SQLite database"):
        open_database(f"sqlite:///{path}")
    assert path.read_bytes() == garbage


def test_markdown_report_shows_verdict_room_and_experiment(db):
    session = create_session(db, "Report me", "Internal docs bot", actor=LOCAL_ADMIN)
    record_answer(db, session.id, "Ana", "checklist.changes_monthly", "yes", LOCAL_ADMIN)
    record_answer(db, session.id, "Bo", "checklist.changes_monthly", "no", LOCAL_ADMIN)
    record_answer(db, session.id, "Bo", "framing.gap", "knowledge", LOCAL_ADMIN)
    report = render_markdown(get_session(db, session.id), answers_by_participant(db, session.id))
    assert report.startswith("# Decision session: Report me")
    assert "## Verdict: Start with RAG, add fine-tuning later" in report
    assert "unsure (split)" in report and "yes: Ana" in report and "no: Bo" in report
    assert "Variants to build and compare: Base model, RAG." in report


def test_cli_exports_a_session_as_markdown(db, tmp_path, capsys):
    session = create_session(db, "Exported", actor=LOCAL_ADMIN)
    record_answer(db, session.id, "Ana", "checklist.traceable", "yes", LOCAL_ADMIN)
    out = tmp_path / "report.md"
    assert main(["checklist", "export", str(session.id), "-o", str(out)]) == 0
    assert "## Verdict: RAG only" in out.read_text()
    assert main(["checklist", "export", "999"]) == 2
    assert "does not exist" in capsys.readouterr().err
