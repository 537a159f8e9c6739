"""The audit log: who did what to which object, and when, with a short before and after. An entry is
written in the same transaction as the change it describes, so neither exists without the other."""

from __future__ import annotations

from typing import Any, Optional, Sequence

from sqlmodel import Session, col, select

from core.access.roles import Actor, Role, require
from core.store import Database
from core.store.tables import AuditEntry


def record(session: Session, actor: Actor, action: str, target: str, before: Optional[dict[str, Any]] = None,
           after: Optional[dict[str, Any]] = None) -> None:
    session.add(AuditEntry(actor=actor.email, action=action, target=target, before=before, after=after))


def audit_log(db: Database, actor: Actor, limit: int = 200) -> list[AuditEntry]:
    """Newest first; admins only."""
    require(actor, Role.ADMIN, "read the audit log")
    with db.session(immediate=False) as session:
        return list(session.exec(select(AuditEntry).order_by(col(AuditEntry.id).desc()).limit(limit)))


def audit_rows(entries: Sequence[AuditEntry]) -> list[dict[str, Any]]:
    return [{"When (UTC)": f"{entry.at:%Y-%m-%d %H:%M:%S}", "Who": entry.actor, "Action": entry.action,
             "Object": entry.target, "Before": _short(entry.before), "After": _short(entry.after)}
            for entry in entries]


def _short(values: Optional[dict[str, Any]]) -> str:
    return ", ".join(f"{key}={value}" for key, value in (values or {}).items())
