"""Sign-in under AppTest: nothing but the password form until someone signs in, the role they hold shown
and enforced (a viewer sees the Fine-tune page but cannot launch training), sign-in off says so, and OIDC
sign-in offers only the provider's button, or says what secrets.toml lacks."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from core.access import LOCAL_ADMIN, Role
from core.access.users import add_user, set_disabled
from tests.pages.conftest import APP_PATH, PASSWORD, signed_in

def test_a_visitor_sees_only_the_sign_in_form_and_a_wrong_password_is_refused(db, password_auth):
    add_user(db, LOCAL_ADMIN, "ana@example.com", Role.REVIEWER, PASSWORD)
    at = AppTest.from_file(APP_PATH, default_timeout=60).run()
    assert [title.value for title in at.title] == ["Sign in to RAG-or-Tune Lab"]
    assert not at.dataframe and not at.sidebar.button  # no page, no sign-out
    at = signed_in("ana@example.com", "wrong password")
    assert [e.value for e in at.error] == ["Wrong email or password."]
    assert [title.value for title in at.title] == ["Sign in to RAG-or-Tune Lab"]


def test_a_signed_in_viewer_sees_the_fine_tune_page_but_cannot_launch_training(db, password_auth, dataset):
    add_user(db, LOCAL_ADMIN, "vi@example.com", Role.VIEWER, PASSWORD)
    at = signed_in("vi@example.com")
    assert not at.exception and not at.error
    assert [title.value for title in at.title] == ["RAG-or-Tune Lab"]  # Home
    assert "Signed in as vi@example.com (viewer)" in [c.value for c in at.sidebar.caption]
    at.switch_page("pages/finetune.py").run()
    assert any("Launching training needs the admin role; you are a viewer." in c.value for c in at.caption)
    assert at.button(key="ft_launch").disabled
    for key in ("ft_sample", "ft_import", "ft_git_build"):
        button = at.button(key=key)
        assert button.disabled and button.help == "Building a dataset needs the admin role; you are a viewer."

    set_disabled(db, LOCAL_ADMIN, "vi@example.com")  # out at the next run
    at.run()
    assert [title.value for title in at.title] == ["Sign in to RAG-or-Tune Lab"]


def test_a_signed_in_reviewer_can_neither_import_nor_remove_eval_sets_nor_edit_a_session(db, password_auth):
    from core.checklist.sessions import create_session
    from core.evaluation.sets import import_eval_file

    import_eval_file(db, "eval_sets/demo/ledgerly-v1.jsonl", actor=LOCAL_ADMIN)
    record = create_session(db, "Support bot", actor=LOCAL_ADMIN)
    add_user(db, LOCAL_ADMIN, "ana@example.com", Role.REVIEWER, PASSWORD)
    at = signed_in("ana@example.com")
    at.switch_page("pages/evaluate.py").run()
    assert not at.exception
    for key, doing in (("ev_import", "Importing an eval set"), ("ev_remove", "Removing an eval set"),
                       ("ev_demo_ledgerly", "Setting up a demo")):
        button = at.button(key=key)
        assert button.disabled and button.help == f"{doing} needs the admin role; you are a reviewer."
    at.query_params["session"] = str(record.id)
    at.switch_page("pages/decide.py").run()
    [save] = [button for button in at.button if button.label == "Save changes"]
    assert save.disabled and save.help == "Editing a session needs the admin role; you are a reviewer."


def test_without_a_secret_password_sign_in_says_what_to_set(db, monkeypatch):
    monkeypatch.setenv("RAGTUNE_AUTH", "password")
    monkeypatch.delenv("RAGTUNE_AUTH_SECRET", raising=False)
    at = AppTest.from_file(APP_PATH, default_timeout=60).run()
    assert any("set RAGTUNE_AUTH_SECRET" in e.value for e in at.error)


def test_with_sign_in_off_the_sidebar_says_anyone_can_change_everything(db):
    at = AppTest.from_file(APP_PATH, default_timeout=60).run()
    assert any("anyone who can reach this page can change everything" in c.value for c in at.sidebar.caption)


def test_an_admin_reads_the_audit_log_on_its_page_and_a_reviewer_is_not_offered_it(db, password_auth):
    add_user(db, LOCAL_ADMIN, "lead@example.com", Role.ADMIN, PASSWORD)
    add_user(db, LOCAL_ADMIN, "ana@example.com", Role.REVIEWER, PASSWORD)
    at = signed_in("lead@example.com")
    at.switch_page("pages/audit.py").run()
    assert not at.exception and not at.error
    rows = at.dataframe[0].value
    assert list(rows["Action"]) == ["users.add", "users.add"] and list(rows["Who"]) == ["local", "local"]

    at = signed_in("ana@example.com")
    assert not at.exception
    with pytest.raises(ValueError, match="Could not find a navigation page"):  # not routed for a reviewer
        at.switch_page("pages/audit.py")


def test_oidc_sign_in_without_an_auth_section_says_what_to_configure(db, monkeypatch):
    monkeypatch.setenv("RAGTUNE_AUTH", "oidc")
    at = AppTest.from_file(APP_PATH, default_timeout=60).run()
    assert not at.exception
    assert any("no [auth] section; add one" in e.value and "server_metadata_url" in e.value for e in at.error)


def test_oidc_sign_in_offers_only_the_provider_s_button(db, monkeypatch):
    monkeypatch.setenv("RAGTUNE_AUTH", "oidc")
    at = AppTest.from_file(APP_PATH, default_timeout=60)
    at.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "c" * 32,
                          "client_id": "lab", "client_secret": "s3cret",
                          "server_metadata_url": "https://login.example.com/.well-known/openid-configuration"}
    at.run()
    assert [title.value for title in at.title] == ["Sign in to RAG-or-Tune Lab"]
    assert [button.label for button in at.button] == ["Sign in with login.example.com"] and not at.text_input
