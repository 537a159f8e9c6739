"""The Diagnose page under AppTest: the modes of the newest runs with their evidence, a session's runs
weighed against its verdict, and a fix a viewer may not carry out."""

from __future__ import annotations

from core.access import LOCAL_ADMIN, Role
from core.access.users import add_user
from core.checklist.sessions import create_session
from tests.diagnosis.fixtures import RAG, Answer, reference_set, stored_answers_run
from tests.pages.conftest import PASSWORD, open_page, signed_in


def low_recall_run(db, session_id=None):
    reference_set(db, "code", ["yes"] * 4)
    return stored_answers_run(db, "code", {RAG: [Answer(scores={"recall_at_5": r}) for r in (0.0, 0.0, 1.0, 0.0)]},
                              session_id=session_id)


def test_an_empty_store_cannot_tell_and_says_which_run_would(db):
    at = open_page("pages/diagnose.py")
    assert not at.exception
    assert at.metric[2].value == "7" and at.metric[0].value == "0"  # each of the seven modes
    assert "relevant_sources" in at.expander[0].markdown[0].value


def test_a_found_mode_shows_its_figures_questions_fix_and_action(db):
    run = low_recall_run(db)
    at = open_page("pages/diagnose.py")
    assert not at.exception and at.metric[0].value == "1"
    found = at.expander[0]
    assert found.label.startswith("1. FOUND: Retrieval recall below 70% (knowledge base docs)")
    assert found.dataframe[0].value["figure"].tolist() == ["file recall@5"]
    assert found.dataframe[1].value["question"].tolist() == ["q0", "q1", "q3"]
    assert "recursive or code-aware chunking" in found.markdown[1].value
    assert found.button[0].label == "Index docs again with the advised chunking"
    links = [(link.proto.label, link.proto.page) for link in found.get("page_link")]
    assert links[0][0] == f"Run {run.id} on Evaluate" and "evaluate" in links[0][1]
    assert [label for label, _ in links[1:]] == [f"Run {run.id}, question {q}" for q in ("q0", "q1", "q3")]


def test_a_sessions_runs_are_weighed_against_its_verdict(db):
    session = create_session(db, "Support bot", actor=LOCAL_ADMIN)
    low_recall_run(db, session.id)
    at = open_page("pages/diagnose.py")
    at.radio(key="diag_scope").set_value("A decision session").run()
    assert not at.exception
    assert at.dataframe[0].value["verdict"].tolist() == ["weakens"] + ["-"] * 6  # the modes not found: no bearing


def test_a_viewer_sees_the_fix_but_cannot_carry_it_out(db, password_auth):
    add_user(db, LOCAL_ADMIN, "viewer@example.com", Role.VIEWER, PASSWORD)
    low_recall_run(db)
    at = signed_in("viewer@example.com")
    at.switch_page("pages/diagnose.py").run()
    assert not at.exception
    button = at.expander[0].button[0]
    assert button.disabled and "admin role" in button.help
