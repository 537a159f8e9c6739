"""The Report page under AppTest: a session without runs, and one whose linked run confirms the verdict."""

from __future__ import annotations

from core.access import LOCAL_ADMIN
from core.checklist.sessions import create_session
from tests.history.runs_fixtures import eval_set, stored_systems_run
from tests.pages.conftest import open_page


def report_page():
    return open_page("pages/report.py")


def test_an_empty_store_says_where_sessions_come_from(db):
    at = report_page()
    assert not at.exception and any("No decision session yet" in i.value for i in at.info)


def test_a_session_shows_its_verdict_its_evidence_and_links_back(db):
    empty = create_session(db, "Without runs", actor=LOCAL_ADMIN)
    session = create_session(db, "Support bot", actor=LOCAL_ADMIN)
    name = eval_set(db, questions=30)
    stored_systems_run(db, name, {"local:smollm2": {"keyword_presence": [1.0] * 5 + [0.0] * 25},
                                  "local:smollm2?kb=docs": {"keyword_presence": [1.0] * 24 + [0.0] * 6}},
                       session_id=session.id)
    at = report_page()
    at.selectbox(key="report_session").set_value(empty.id).run()
    assert any("cannot yet decide" in w.value for w in at.warning)
    at.selectbox(key="report_session").set_value(session.id).run()
    assert not at.exception
    assert any("The evidence confirms the verdict" in s.value for s in at.success)
    assert list(at.table[0].value.columns) == ["", "Base model", "RAG"]
    assert at.query_params["session"] == str(session.id)  # the report links here, and back
    links = [link.proto.page for link in at.get("page_link")]
    assert any("decide" in link for link in links)
