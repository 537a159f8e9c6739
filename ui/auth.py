"""Who is using the page. With RAGTUNE_AUTH=off nobody signs in and everyone acts as an admin; with
`password` a user of the store signs in, and a signed, expiring token in a cookie keeps them signed
in across reloads; with `oidc` an OIDC provider signs them in through st.login, whose own cookie keeps
them signed in, and the store gives their role. Roles are checked in core; the pages only reflect them."""

from __future__ import annotations

import json
import os
from typing import Optional

import streamlit as st

from core.access import Actor, Role, allows
from core.access.oidc import Provider, configured_providers
from core.access.roles import default_role
from core.access.tokens import SECRET_ENV, issue, valid_secret, verified_email
from core.access.users import actor_for, provider_sign_in, sign_in
from core.errors import AccessDeniedError, LabError
from core.settings import get_settings
from core.store import Database, current_database
from ui.common import reported_errors

ANYONE = Actor("anyone", Role.ADMIN)  # RAGTUNE_AUTH=off
COOKIE = "ragtune_sign_in"
EMAIL_KEY = "auth.email"
ACTOR_KEY = "auth.actor"
SIGNED_OUT_KEY = "auth.signed_out"
COOKIE_SCRIPT_KEY = "auth.cookie_script"
REFUSAL_KEY = "auth.refusal"


def current_actor() -> Optional[Actor]:
    """The acting user, or None when someone must sign in first. Re-read from the store on every run,
    so a user disabled or given another role is out, or has it, at once."""
    mode = get_settings().auth
    if mode == "off":
        return ANYONE
    if mode == "oidc":
        return _provider_actor(current_database())
    return _password_actor(current_database())


def _password_actor(db: Database) -> Optional[Actor]:
    _send_cookie_change()
    email = st.session_state.get(EMAIL_KEY) or _cookie_email()
    if not email:
        return None
    try:
        actor = actor_for(db, email)
    except LabError:
        sign_out()
        return None
    st.session_state[EMAIL_KEY] = actor.email
    return actor


def signed_in_or_stop() -> Actor:
    """The acting user, kept for the pages (`acting_user`); else the sign-in form, and the run stops."""
    try:
        actor = current_actor()
        if actor is None:
            if get_settings().auth == "oidc":
                provider_sign_in_page()
            else:
                sign_in_page(current_database())
            st.stop()
    except LabError as exc:  # a bad RAGTUNE_AUTH, no secret, no [auth] in secrets.toml, the store unreachable
        st.error(str(exc))
        st.stop()
    st.session_state[ACTOR_KEY] = actor
    with st.sidebar:
        st.caption(who_line(actor))
        if actor is not ANYONE:
            sign_out_button()
    return actor


def acting_user() -> Actor:
    """Who this page acts for (app.py's router checked the sign-in before the page runs)."""
    return st.session_state[ACTOR_KEY]


def missing_role(role: Role, doing: str) -> Optional[str]:
    """Why the acting user may not do `doing` ("Launching training needs the admin role; you are a viewer."),
    for a caption or the help of the button it disables; None when their role allows it."""
    actor = acting_user()
    return None if allows(actor, role) else f"{doing} needs the {role.label} role; you are a {actor.role.label}."


def own_name_field(label: str, key: str, placeholder: str = "") -> str:
    """The name a vote or a label is kept under: a signed-in user's own (shown, not editable), else typed."""
    actor = acting_user()
    if actor.signed_in:
        return st.text_input(label, value=actor.email, disabled=True)
    return st.text_input(label, key=key, placeholder=placeholder).strip()


def sign_in_page(db: Database) -> None:
    st.title("Sign in to RAG-or-Tune Lab")
    with st.form("auth_sign_in"):
        email = st.text_input("Email")
        password = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        with reported_errors():
            actor = sign_in(db, email, password)
            st.session_state[EMAIL_KEY] = actor.email
            st.session_state.pop(SIGNED_OUT_KEY, None)
            lifetime_s = get_settings().auth_hours * 3600
            _change_cookie(issue(actor.email, secret(), lifetime_s), lifetime_s)
            st.rerun()


def _provider_actor(db: Database) -> Optional[Actor]:
    """The user the OIDC provider signed in, as the store knows them; None until then, or when the store refuses
    them (the sign-in page then says why)."""
    providers()  # a missing [auth] key is named before anyone tries to sign in
    if not _provider_signed_in():
        return None
    try:
        actor = provider_sign_in(db, st.user, default_role(get_settings()))
    except AccessDeniedError as exc:
        st.session_state[REFUSAL_KEY] = str(exc)
        return None
    st.session_state.pop(REFUSAL_KEY, None)
    return actor


def provider_sign_in_page() -> None:
    st.title("Sign in to RAG-or-Tune Lab")
    if _provider_signed_in() and REFUSAL_KEY in st.session_state:
        st.error(st.session_state[REFUSAL_KEY])
        sign_out_button()  # to sign in as someone else
        return
    for provider in providers():
        if st.button(f"Sign in with {provider.label}", type="primary", key=f"auth_sign_in_{provider.name}"):
            st.login(provider.name)


def _provider_signed_in() -> bool:
    """st.user has no `is_logged_in` unless secrets.toml has an [auth] section (AppTest's secrets are no file)."""
    return bool(st.user.get("is_logged_in"))


def providers() -> list[Provider]:
    return configured_providers(_from_secrets_toml("auth"))


def sign_out_button() -> None:
    if st.button("Sign out", key="auth_sign_out"):
        if get_settings().auth == "oidc":
            st.logout()  # a new session, back at Home
        else:
            sign_out()
            st.rerun()


def sign_out() -> None:
    st.session_state.pop(EMAIL_KEY, None)
    st.session_state[SIGNED_OUT_KEY] = True
    _change_cookie("", 0)


def _cookie_email() -> Optional[str]:
    """Who the sign-in cookie names. A session reads the cookies its browser sent when it opened, so
    after a sign-out in this session the cookie it saw is ignored."""
    if st.session_state.get(SIGNED_OUT_KEY):
        return None
    return verified_email(st.context.cookies.get(COOKIE, ""), secret())


def who_line(actor: Actor) -> str:
    if actor is ANYONE:
        return ("Sign-in is off: anyone who can reach this page can change everything. Set RAGTUNE_AUTH=password "
                "or oidc to require it.")
    return f"Signed in as {actor.email} ({actor.role.label})"


def secret() -> str:
    """What signs the tokens: from the environment, else `.streamlit/secrets.toml`."""
    return valid_secret(os.environ.get(SECRET_ENV) or _from_secrets_toml(SECRET_ENV))


def _from_secrets_toml(name: str) -> Optional[str]:
    try:
        return st.secrets.get(name)
    except FileNotFoundError:  # no secrets.toml
        return None


def _change_cookie(value: str, max_age_s: float) -> None:
    """The browser sets the cookie in the next run (a script sent just before a rerun may never run)."""
    st.session_state[COOKIE_SCRIPT_KEY] = (f"document.cookie = {json.dumps(COOKIE)} + '=' + {json.dumps(value)} + "
                                           f"'; max-age={int(max_age_s)}; path=/; SameSite=Strict';")


def _send_cookie_change() -> None:
    script = st.session_state.pop(COOKIE_SCRIPT_KEY, None)
    if script:
        st.html(f"<script>{script}</script>", unsafe_allow_javascript=True)
