"""Users kept in the store, managed by admins, signing in with a password hashed with Argon2 (argon2id).

Repeated wrong passwords for one account slow its sign-in down: after `SLOW_DOWN_AFTER` in a row,
each try must wait twice as long as the last (from `FIRST_WAIT_S` up to `MAX_WAIT_S`). Every change
is written to the audit log with who made it.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from functools import cache
from typing import Any, Mapping, Optional

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, select

from core.access import audit
from core.access.roles import Actor, Role, require
from core.errors import AccessDeniedError, AlreadyExistsError, InvalidInputError, NotFoundError
from core.store import Database
from core.store.tables import User, as_utc, utc_now

MIN_PASSWORD_LENGTH = 10
SLOW_DOWN_AFTER = 3
FIRST_WAIT_S = 2.0
MAX_WAIT_S = 300.0
EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
WRONG = "Wrong email or password."

_hasher = PasswordHasher()


@cache
def _unknown_user_hash() -> str:
    """Verified when the email is unknown, so a wrong email takes as long as a wrong password."""
    return _hasher.hash("not anybody's password")


def add_user(db: Database, actor: Actor, email: str, role: Role, password: Optional[str]) -> User:
    """A new user; with no password they can sign in only through the OIDC provider."""
    require(actor, Role.ADMIN, "add users")
    email = valid_email(email)
    password_hash = _hasher.hash(valid_password(password)) if password is not None else None
    with db.session() as session:
        if _find(session, email) is not None:
            raise AlreadyExistsError(f"A user {email} exists already: `users role` changes their role.")
        user = User(email=email, role=role.label, password_hash=password_hash, created_by=actor.email)
        session.add(user)
        audit.record(session, actor, "users.add", f"user {email}",
                     after={"role": role.label, "password": password is not None})
    return user


def list_users(db: Database) -> list[User]:
    with db.session(immediate=False) as session:
        return list(session.exec(select(User).order_by(User.email)))


def set_role(db: Database, actor: Actor, email: str, role: Role) -> User:
    require(actor, Role.ADMIN, "change a user's role")
    with db.session() as session:
        user = _existing(session, email)
        if user.email == actor.email and role < Role.ADMIN:
            raise InvalidInputError("You cannot lower your own role: another admin can.")
        audit.record(session, actor, "users.role", f"user {user.email}", before={"role": user.role},
                     after={"role": role.label})
        user.role = role.label
        session.add(user)
    return user


def set_disabled(db: Database, actor: Actor, email: str, disabled: bool = True) -> User:
    """A disabled user cannot sign in or act; their past work keeps their name."""
    require(actor, Role.ADMIN, "disable or enable a user")
    with db.session() as session:
        user = _existing(session, email)
        if user.email == actor.email and disabled:
            raise InvalidInputError("You cannot disable yourself: another admin can.")
        audit.record(session, actor, "users.disable" if disabled else "users.enable", f"user {user.email}",
                     before={"disabled": user.disabled}, after={"disabled": disabled})
        user.disabled = disabled
        session.add(user)
    return user


def actor_for(db: Database, email: str) -> Actor:
    """The user `email` as someone acting (e.g. `python -m core --as EMAIL`): they must exist and be enabled."""
    with db.session(immediate=False) as session:
        user = _existing(session, email)
    return _acting(user)


def provider_sign_in(db: Database, claims: Mapping[str, Any], first_role: Role) -> Actor:
    """The user an OIDC provider signed in, named by the `email` of their identity `claims`; re-read on every page
    run like `actor_for`. One signing in for the first time is added with `first_role`; a disabled user is
    refused whatever the provider says."""
    email = claims.get("email")
    if not isinstance(email, str) or not email:
        raise AccessDeniedError("The OIDC provider did not say who signed in (no email claim): configure it to "
                                "share the user's email (the `email` scope).")
    if claims.get("email_verified") is False:  # providers that do not check emails say so; some omit the claim
        raise AccessDeniedError(f"The OIDC provider has not verified {email}: verify it there, then sign in again.")
    email = valid_email(email)
    with db.session(immediate=False) as session:
        user = _find(session, email)
    return _acting(user or _added_on_first_sign_in(db, email, first_role))


def _added_on_first_sign_in(db: Database, email: str, role: Role) -> User:
    """The audit log says they added themselves: nobody else did."""
    with db.session() as session:
        user = _find(session, email)  # another tab of theirs may have added them since
        if user is None:
            user = User(email=email, role=role.label, created_by=email)
            session.add(user)
            audit.record(session, Actor(email, role, signed_in=True), "users.add", f"user {email}",
                         after={"role": role.label, "password": False})
    return user


def sign_in(db: Database, email: str, password: str, now: Optional[datetime] = None) -> Actor:
    """The user, if `password` is theirs; a wrong one is counted, and slows the next tries down."""
    now = now or utc_now()
    with db.session() as session:
        user = _find(session, email.strip().lower())
        if user is None or user.password_hash is None or user.disabled:
            _matches(_unknown_user_hash(), password)
            raise AccessDeniedError(WRONG)
        wait_s = retry_wait_s(user, now)
        if wait_s > 0:
            raise AccessDeniedError(f"Too many wrong passwords for {user.email}: try again in {math.ceil(wait_s)} s.")
        if not _matches(user.password_hash, password):
            user.failed_sign_ins, user.last_failed_at = user.failed_sign_ins + 1, now
            session.add(user)
        else:
            user.failed_sign_ins, user.last_failed_at = 0, None
            if _hasher.check_needs_rehash(user.password_hash):
                user.password_hash = _hasher.hash(password)
            session.add(user)
            return Actor(user.email, Role.named(user.role), signed_in=True)
    raise AccessDeniedError(WRONG)  # raised after the session committed the count


def retry_wait_s(user: User, now: datetime) -> float:
    """How long `user` must still wait before the next try."""
    if user.failed_sign_ins < SLOW_DOWN_AFTER or user.last_failed_at is None:
        return 0.0
    wait = min(FIRST_WAIT_S * 2 ** (user.failed_sign_ins - SLOW_DOWN_AFTER), MAX_WAIT_S)
    return max(0.0, wait - (now - as_utc(user.last_failed_at)).total_seconds())


def valid_email(email: str) -> str:
    email = email.strip().lower()
    if not EMAIL.fullmatch(email):
        raise InvalidInputError(f"{email!r} is not an email address: write it as name@example.com.")
    return email


def valid_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInputError(f"A password needs at least {MIN_PASSWORD_LENGTH} characters.")
    return password


def _matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _acting(user: User) -> Actor:
    if user.disabled:
        raise AccessDeniedError(f"The user {user.email} is disabled: an admin can enable them.")
    return Actor(user.email, Role.named(user.role), signed_in=True)


def _find(session: Session, email: str) -> Optional[User]:
    return session.exec(select(User).where(User.email == email)).first()


def _existing(session: Session, email: str) -> User:
    user = _find(session, email.strip().lower())
    if user is None:
        raise NotFoundError(f"No user {email.strip()!r}: `python -m core users list` shows them.")
    return user
