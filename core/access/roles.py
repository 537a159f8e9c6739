"""Roles, lowest first, and the check every writing function makes before it writes.

- viewer: reads everything;
- reviewer: also votes in workshops, asks in the Playground, starts eval runs, labels answers;
- admin: also creates and removes knowledge bases, datasets, eval sets and adapters, trains and merges,
  sets baselines, edits and deletes decision sessions, and manages users.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from core.errors import AccessDeniedError, InvalidInputError
from core.settings import ENV_PREFIX, Settings


class Role(IntEnum):
    VIEWER = 1
    REVIEWER = 2
    ADMIN = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def named(cls, name: str) -> Role:
        try:
            return cls[name.strip().upper()]
        except KeyError:
            raise InvalidInputError(f"No role {name!r}: choose one of {', '.join(r.label for r in cls)}.") from None


def default_role(settings: Settings) -> Role:
    """The role a user the OIDC provider signs in for the first time gets (RAGTUNE_DEFAULT_ROLE)."""
    try:
        return Role.named(settings.default_role)
    except InvalidInputError:
        raise InvalidInputError(f"{ENV_PREFIX}DEFAULT_ROLE={settings.default_role!r}: set it to one of "
                                f"{', '.join(role.label for role in Role)}.") from None


@dataclass(frozen=True)
class Actor:
    email: str  # "local" for the operator's own shell
    role: Role
    signed_in: bool = False  # a user of the store (signed in, or named by --as), who acts under their own name

    def __str__(self) -> str:
        return f"{self.email} ({self.role.label})"


# The CLI in the operator's own shell acts as an admin unless `--as EMAIL` says otherwise.
LOCAL_ADMIN = Actor("local", Role.ADMIN)


def allows(actor: Actor, role: Role) -> bool:
    return actor.role >= role


def require(actor: Actor, role: Role, doing: str) -> None:
    """Refuse, naming the role needed, unless `actor` holds `role` or a higher one."""
    if not allows(actor, role):
        raise AccessDeniedError(f"To {doing} you need the {role.label} role; {actor.email} is a {actor.role.label}. "
                                "An admin can raise it: python -m core users role EMAIL ROLE.")
