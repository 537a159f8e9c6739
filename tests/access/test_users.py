"""Users, roles, password sign-in and the audit log, in the store and from the command line."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest

from core.access import LOCAL_ADMIN, Actor, Role
from core.access.audit import audit_log
from core.access.users import (FIRST_WAIT_S, SLOW_DOWN_AFTER, WRONG, actor_for, add_user, list_users, set_disabled,
                               set_role, sign_in)
from core.cli import main
from core.errors import AccessDeniedError, AlreadyExistsError, InvalidInputError
from core.store.tables import utc_now

PASSWORD = "correct horse battery"


@pytest.fixture
def ana(db):
    return add_user(db, LOCAL_ADMIN, "Ana@Example.com", Role.REVIEWER, PASSWORD)


def test_a_password_is_kept_only_as_an_argon2id_hash_and_signs_its_user_in_whatever_the_case(db, ana):
    [user] = list_users(db)
    assert user.email == "ana@example.com" and user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    assert sign_in(db, " ANA@example.com", PASSWORD) == Actor("ana@example.com", Role.REVIEWER, signed_in=True)
    with pytest.raises(AlreadyExistsError):
        add_user(db, LOCAL_ADMIN, "ana@EXAMPLE.com", Role.VIEWER, PASSWORD)


@pytest.mark.parametrize("email, password, message", [
    ("ana", PASSWORD, "is not an email address"),
    ("ana@example.com", "short", "at least 10 characters"),
])
def test_a_bad_email_or_password_is_refused_and_saves_nothing(db, email, password, message):
    with pytest.raises(InvalidInputError, match=message):
        add_user(db, LOCAL_ADMIN, email, Role.VIEWER, password)
    assert list_users(db) == [] and audit_log(db, LOCAL_ADMIN) == []


def test_a_wrong_password_an_unknown_email_and_a_disabled_user_all_get_the_same_refusal(db, ana):
    for email, password in (("ana@example.com", "wrong password"), ("bo@example.com", PASSWORD)):
        with pytest.raises(AccessDeniedError, match=WRONG):
            sign_in(db, email, password)
    set_disabled(db, LOCAL_ADMIN, "ana@example.com")
    with pytest.raises(AccessDeniedError, match=WRONG):
        sign_in(db, "ana@example.com", PASSWORD)
    with pytest.raises(AccessDeniedError, match="is disabled"):
        actor_for(db, "ana@example.com")


def test_repeated_wrong_passwords_make_each_next_try_wait_longer_and_a_right_one_resets_the_count(db, ana):
    now = utc_now()
    for _ in range(SLOW_DOWN_AFTER):
        with pytest.raises(AccessDeniedError, match=WRONG):
            sign_in(db, "ana@example.com", "wrong password", now=now)
    with pytest.raises(AccessDeniedError, match=f"try again in {FIRST_WAIT_S:.0f} s"):
        sign_in(db, "ana@example.com", PASSWORD, now=now)  # even the right password waits
    later = now + timedelta(seconds=FIRST_WAIT_S)
    with pytest.raises(AccessDeniedError, match=WRONG):
        sign_in(db, "ana@example.com", "wrong again", now=later)
    with pytest.raises(AccessDeniedError, match=f"try again in {2 * FIRST_WAIT_S:.0f} s"):
        sign_in(db, "ana@example.com", PASSWORD, now=later)  # the wait doubled
    waited = later + timedelta(seconds=2 * FIRST_WAIT_S)
    assert sign_in(db, "ana@example.com", PASSWORD, now=waited).role == Role.REVIEWER
    sign_in(db, "ana@example.com", PASSWORD, now=later)  # the count was reset: no wait


def test_only_an_admin_manages_users_and_the_refusal_names_the_role_needed(db, ana):
    reviewer = actor_for(db, "ana@example.com")
    with pytest.raises(AccessDeniedError, match="To add users you need the admin role; ana@example.com is a reviewer"):
        add_user(db, reviewer, "bo@example.com", Role.ADMIN, PASSWORD)
    with pytest.raises(AccessDeniedError, match="change a user's role"):
        set_role(db, reviewer, "ana@example.com", Role.ADMIN)
    assert [u.role for u in list_users(db)] == ["reviewer"]


def test_every_change_is_in_the_audit_log_with_who_made_it_and_before_and_after(db, ana):
    set_role(db, LOCAL_ADMIN, "ana@example.com", Role.ADMIN)
    admin = actor_for(db, "ana@example.com")
    add_user(db, admin, "bo@example.com", Role.VIEWER, None)
    with pytest.raises(InvalidInputError, match="cannot lower your own role"):
        set_role(db, admin, "ana@example.com", Role.VIEWER)
    entries = [(e.actor, e.action, e.target, e.before, e.after) for e in reversed(audit_log(db, LOCAL_ADMIN))]
    assert entries == [
        ("local", "users.add", "user ana@example.com", None, {"role": "reviewer", "password": True}),
        ("local", "users.role", "user ana@example.com", {"role": "reviewer"}, {"role": "admin"}),
        ("ana@example.com", "users.add", "user bo@example.com", None, {"role": "viewer", "password": False}),
    ]
    assert list_users(db)[1].created_by == "ana@example.com"


def test_the_command_line_adds_users_from_stdin_and_acts_as_one_with_as(db, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert main(["users", "add", "ana@example.com", "--role", "reviewer"]) == 0
    assert sign_in(db, "ana@example.com", PASSWORD).role == Role.REVIEWER  # the password came from stdin
    assert main(["users", "add", "cy@example.com", "--role", "viewer", "--no-password"]) == 0
    capsys.readouterr()
    assert main(["users", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(u["email"], u["role"], u["password"]) for u in listed] == [
        ("ana@example.com", "reviewer", True), ("cy@example.com", "viewer", False)]

    assert main(["--as", "ana@example.com", "users", "role", "cy@example.com", "admin"]) == 2
    assert "you need the admin role; ana@example.com is a reviewer" in capsys.readouterr().err
    assert main(["--as", "ana@example.com", "audit", "list"]) == 2
    assert "To read the audit log you need the admin role" in capsys.readouterr().err
    assert main(["--as", "nobody@example.com", "users", "list"]) == 2
    assert "No user 'nobody@example.com'" in capsys.readouterr().err

    assert main(["users", "disable", "ana@example.com"]) == 0
    assert main(["--as", "ana@example.com", "users", "list"]) == 2
    assert "disabled" in capsys.readouterr().err
    assert main(["audit", "list", "--json"]) == 0
    actions = [entry["action"] for entry in json.loads(capsys.readouterr().out)]
    assert actions == ["users.disable", "users.add", "users.add"]
