"""Sign-in through an OIDC provider: the store gives a first-time user the default role (and the audit log says
so), keeps an existing user's role, refuses a disabled one; secrets.toml's [auth] is checked before use."""

from __future__ import annotations

import re

import pytest

from core.access import LOCAL_ADMIN, Actor, Role
from core.access.audit import audit_log
from core.access.oidc import Provider, configured_providers
from core.access.roles import default_role
from core.access.users import add_user, list_users, provider_sign_in, set_disabled, set_role
from core.errors import AccessDeniedError, InvalidInputError
from core.settings import get_settings

CLIENT = {"client_id": "lab", "client_secret": "s3cret", "server_metadata_url":
          "https://login.example.com/.well-known/openid-configuration"}
NIA = {"email": "nia@example.com", "email_verified": True}
SHARED = {"redirect_uri": "http://lab.example.com:8501/oauth2callback", "cookie_secret": "c" * 32}


def test_a_first_time_user_gets_the_default_role_no_password_and_an_audit_entry_naming_themselves(db):
    actor = provider_sign_in(db, {"email": "Nia@Example.com"}, Role.VIEWER)
    assert actor == Actor("nia@example.com", Role.VIEWER, signed_in=True)
    [user] = list_users(db)
    assert (user.role, user.password_hash, user.created_by) == ("viewer", None, "nia@example.com")
    [entry] = audit_log(db, LOCAL_ADMIN)
    assert (entry.actor, entry.action, entry.target) == ("nia@example.com", "users.add", "user nia@example.com")
    assert entry.after == {"role": "viewer", "password": False}


def test_an_existing_user_keeps_their_role_and_the_next_sign_in_writes_nothing(db):
    add_user(db, LOCAL_ADMIN, "ana@example.com", Role.REVIEWER, None)
    assert provider_sign_in(db, {"email": "ana@example.com"}, Role.VIEWER).role == Role.REVIEWER
    set_role(db, LOCAL_ADMIN, "ana@example.com", Role.ADMIN)
    assert provider_sign_in(db, {"email": "ana@example.com"}, Role.VIEWER).role == Role.ADMIN
    assert [entry.action for entry in audit_log(db, LOCAL_ADMIN)] == ["users.role", "users.add"]


def test_a_disabled_user_is_refused_whatever_the_provider_says(db):
    provider_sign_in(db, NIA, Role.VIEWER)
    set_disabled(db, LOCAL_ADMIN, "nia@example.com")
    with pytest.raises(AccessDeniedError, match="nia@example.com is disabled: an admin can enable them"):
        provider_sign_in(db, NIA, Role.VIEWER)


@pytest.mark.parametrize("claims, message", [
    ({"sub": "8c1f"}, "no email claim"),
    ({"email": "nia@example.com", "email_verified": False}, "has not verified nia@example.com"),
])
def test_a_sign_in_without_a_verified_email_is_refused_and_adds_nobody(db, claims, message):
    with pytest.raises(AccessDeniedError, match=message):
        provider_sign_in(db, claims, Role.VIEWER)
    assert list_users(db) == []


def test_the_default_role_is_viewer_unless_ragtune_default_role_names_another(monkeypatch):
    assert default_role(get_settings()) == Role.VIEWER
    monkeypatch.setenv("RAGTUNE_DEFAULT_ROLE", " Reviewer ")
    assert default_role(get_settings()) == Role.REVIEWER
    monkeypatch.setenv("RAGTUNE_DEFAULT_ROLE", "boss")
    with pytest.raises(InvalidInputError) as refusal:
        default_role(get_settings())
    assert str(refusal.value) == "RAGTUNE_DEFAULT_ROLE='boss': set it to one of viewer, reviewer, admin."


def test_the_auth_section_names_the_default_provider_by_its_host_and_named_ones_by_their_name():
    assert configured_providers({**SHARED, **CLIENT}) == [Provider(None, "login.example.com")]
    named = configured_providers({**SHARED, "client_kwargs": {"prompt": "login"}, "google": CLIENT, "okta": CLIENT})
    assert named == [Provider("google", "Google"), Provider("okta", "Okta")]


@pytest.mark.parametrize("auth, message", [
    (None, "has no [auth] section; add one:\n\n[auth]\nredirect_uri"),
    ({**CLIENT, "cookie_secret": "c" * 32}, "The [auth] section of .streamlit/secrets.toml needs redirect_uri"),
    (SHARED, "names no OIDC client: add client_id, client_secret, server_metadata_url"),
    ({**SHARED, "google": {"client_id": "lab"}}, "The [auth.google] section of .streamlit/secrets.toml needs"),
    ({**SHARED, "entra_id": CLIENT}, "[auth.entra_id] in .streamlit/secrets.toml: a provider's name cannot hold '_'"),
])
def test_an_incomplete_auth_section_names_what_to_configure(auth, message):
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        configured_providers(auth)
