"""The Decide page driven through Streamlit's AppTest: real SQLite underneath."""

from streamlit.testing.v1 import AppTest

from tests.pages.conftest import APP_PATH
from core.access import LOCAL_ADMIN
from core.checklist.sessions import create_session, delete_session, get_session, record_answer


def open_decide(session_id=None) -> AppTest:
    at = AppTest.from_file(APP_PATH, default_timeout=60).run()
    if session_id is not None:
        at.query_params["session"] = str(session_id)
    at.switch_page("pages/decide.py").run()
    assert not at.exception
    return at


def radio(at, session_id, participant, key):
    return at.radio(key=f"decide.answer.{session_id}.{participant}.{key}")


def test_every_page_renders_without_exception(app):
    at = app
    assert not at.exception
    for page in ("pages/home.py", "pages/decide.py", "pages/knowledge.py", "pages/playground.py",
                 "pages/history.py", "pages/report.py"):
        at.switch_page(page).run()
        assert not at.exception, page


def test_creating_a_session_from_the_page(db):
    at = open_decide()
    at.text_input[0].input("Support bot, Q3")
    at.button[0].click().run()  # the form's submit button
    assert not at.exception
    assert at.query_params["session"] == "1"
    assert get_session(db, 1).name == "Support bot, Q3"


def test_an_empty_or_duplicate_name_gets_a_message(db):
    create_session(db, "Taken", actor=LOCAL_ADMIN)
    at = open_decide()
    at.text_input[0].input("   ")
    at.button[0].click().run()
    assert any("Give the session a name" in e.value for e in at.error)
    at.text_input[0].input("taken")
    at.button[0].click().run()
    assert any("already exists" in e.value for e in at.error)


def test_answering_the_checklist_produces_and_saves_a_verdict(db):
    session = create_session(db, "Docs bot", actor=LOCAL_ADMIN)
    at = open_decide(session.id)
    at.text_input(key="decide.participant").input("Ana").run()
    radio(at, session.id, "Ana", "checklist.changes_monthly").set_value("no").run()
    radio(at, session.id, "Ana", "checklist.traceable").set_value("no").run()
    radio(at, session.id, "Ana", "checklist.style_format").set_value("yes").run()
    assert not at.exception
    assert any("Verdict: Fine-tuning only" in s.value for s in at.success)
    stored = get_session(db, session.id).verdict
    assert stored["recommendation"] == "fine_tune"
    assert stored["trigger"] == "style_format"
    report_links = [link.proto for link in at.get("page_link") if "report" in link.proto.page]
    assert report_links and f"session={session.id}" in report_links[0].query_string  # the session's report


def test_the_room_sees_who_answered_what_and_where_it_splits(db):
    session = create_session(db, "Split", actor=LOCAL_ADMIN)
    record_answer(db, session.id, "Ana", "checklist.changes_monthly", "yes", LOCAL_ADMIN)
    record_answer(db, session.id, "Bo", "checklist.changes_monthly", "no", LOCAL_ADMIN)
    at = open_decide(session.id)
    captions = " ".join(c.value for c in at.caption)
    assert "**Yes**: Ana" in captions and "**No**: Bo" in captions and "split room" in captions
    assert any("Where the room splits" in m.value and "change more often than once per month" in m.value
               for m in at.markdown)
    assert any("Start with RAG" in s.value for s in at.success)
    assert radio(at, session.id, "", "checklist.changes_monthly").disabled  # no name yet: read-only


def test_a_stale_link_to_a_deleted_session(db):
    session = create_session(db, "Deleted", actor=LOCAL_ADMIN)
    delete_session(db, session.id, LOCAL_ADMIN)
    at = open_decide(session.id)
    assert any("may have been deleted" in e.value for e in at.error)
    assert not at.exception


def test_a_corrupt_database_gets_a_message_not_a_traceback(data_dir):
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "lab.db").write_bytes(b"garbage" * 1000)
    at = open_decide()
    assert any("not a valid SQLite database" in e.value for e in at.error)
    assert (data_dir / "lab.db").read_bytes() == b"garbage" * 1000


def test_a_read_only_database_shows_why_an_answer_was_not_saved(db, data_dir, monkeypatch):
    session = create_session(db, "Frozen", actor=LOCAL_ADMIN)
    record_answer(db, session.id, "Ana", "checklist.gpu", "no", LOCAL_ADMIN)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///file:{data_dir / 'lab.db'}?mode=ro&uri=true")
    at = open_decide(session.id)
    at.text_input(key="decide.participant").input("Bo").run()
    radio(at, session.id, "Bo", "checklist.gpu").set_value("yes").run()
    assert any("read-only, so nothing was saved" in e.value for e in at.error)
    assert get_session(db, session.id).verdict["recommendation"] == "rag"
