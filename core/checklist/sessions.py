"""Decision sessions in the store: create, list, answer, reopen, delete.

Every answer is saved at once, and the room's verdict is recomputed and saved
with the session in the same transaction, so what a later page reads is never
older than the answers.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Optional

from sqlmodel import Session, col, delete, func, select

from core.access import Actor, Role, audit, require
from core.checklist.instruments import QUESTION_ANSWERS
from core.checklist.room import consensus_answers
from core.checklist.verdict import decide
from core.errors import AccessDeniedError, AlreadyExistsError, InvalidInputError, NotFoundError
from core.store import Database
from core.store.tables import DecisionAnswer, DecisionSession, utc_now

MAX_NAME_LENGTH = 80


@dataclass(frozen=True)
class SessionSummary:
    id: int
    name: str
    participants: int
    recommendation: Optional[str]
    updated_at: datetime


def create_session(db: Database, name: str, context: str = "", *, actor: Actor) -> DecisionSession:
    require(actor, Role.REVIEWER, "open a decision session")
    name = _valid_name(name)
    with db.session() as session:
        _ensure_name_free(session, name)
        record = DecisionSession(name=name, context=context.strip(), created_by=actor.email)
        session.add(record)
        session.flush()
        record.verdict = decide({}).to_record()
        return record


def list_sessions(db: Database) -> list[SessionSummary]:
    with db.session(immediate=False) as session:
        counts = dict(session.exec(
            select(DecisionAnswer.session_id, func.count(func.distinct(DecisionAnswer.participant)))
            .group_by(DecisionAnswer.session_id)
        ).all())
        records = session.exec(select(DecisionSession).order_by(col(DecisionSession.updated_at).desc())).all()
        return [
            SessionSummary(r.id, r.name, counts.get(r.id, 0),
                           (r.verdict or {}).get("label"), r.updated_at)
            for r in records
        ]


def get_session(db: Database, session_id: int) -> DecisionSession:
    with db.session(immediate=False) as session:
        return _load(session, session_id)


def update_session(db: Database, session_id: int, *, name: Optional[str] = None,
                   context: Optional[str] = None, actor: Actor) -> DecisionSession:
    """Rename a session or reword its context: shared data, so admins only, and audited."""
    require(actor, Role.ADMIN, "rename or edit a decision session")
    with db.session() as session:
        record = _load(session, session_id)
        before = {"name": record.name, "context": record.context}
        if name is not None and _valid_name(name) != record.name:
            _ensure_name_free(session, _valid_name(name))
            record.name = _valid_name(name)
        if context is not None:
            record.context = context.strip()
        record.updated_at = utc_now()
        session.add(record)
        audit.record(session, actor, "sessions.update", f"decision session {before['name']}", before=before,
                     after={"name": record.name, "context": record.context})
        return record


def delete_session(db: Database, session_id: int, actor: Actor) -> None:
    require(actor, Role.ADMIN, "delete a decision session")
    with db.session() as session:
        record = _load(session, session_id)
        audit.record(session, actor, "sessions.delete", f"decision session {record.name}",
                     before={"verdict": (record.verdict or {}).get("label")})
        session.delete(record)  # answers go with it (ON DELETE CASCADE)


def record_answer(db: Database, session_id: int, participant: str, question: str,
                  answer: Optional[str], actor: Actor) -> DecisionSession:
    """Save (or with `answer=None`, clear) one answer and refresh the room's verdict. A signed-in user
    answers under their own name only; without sign-in the name is what was typed."""
    require(actor, Role.REVIEWER, "answer in a workshop")
    participant = _valid_participant(participant)
    if actor.signed_in and participant != actor.email:
        raise AccessDeniedError(f"{actor.email} answers under their own name, not as {participant!r}.")
    _validate_answer(question, answer)
    with db.session() as session:
        record = _load(session, session_id)
        existing = session.exec(select(DecisionAnswer).where(
            DecisionAnswer.session_id == session_id,
            DecisionAnswer.participant == participant,
            DecisionAnswer.question == question,
        )).first()
        if answer is None:
            if existing:
                session.delete(existing)
        elif existing:
            existing.answer, existing.answered_at = answer, utc_now()
            session.add(existing)
        else:
            session.add(DecisionAnswer(session_id=session_id, participant=participant,
                                       question=question, answer=answer))
        session.flush()
        return _refresh_verdict(session, record)


def remove_participant(db: Database, session_id: int, participant: str, actor: Actor) -> DecisionSession:
    require(actor, Role.ADMIN, "remove a participant's answers")
    with db.session() as session:
        record = _load(session, session_id)
        audit.record(session, actor, "sessions.remove_participant", f"decision session {record.name}",
                     before={"participant": participant})
        session.exec(delete(DecisionAnswer).where(
            DecisionAnswer.session_id == session_id, DecisionAnswer.participant == participant))
        session.flush()
        return _refresh_verdict(session, record)


def answers_by_participant(db: Database, session_id: int) -> dict[str, dict[str, str]]:
    with db.session(immediate=False) as session:
        _load(session, session_id)
        return _answers(session, session_id)


def _answers(session: Session, session_id: int) -> dict[str, dict[str, str]]:
    rows = session.exec(select(DecisionAnswer).where(DecisionAnswer.session_id == session_id)).all()
    answers: dict[str, dict[str, str]] = defaultdict(dict)
    for row in rows:
        answers[row.participant][row.question] = row.answer
    return dict(answers)


def _refresh_verdict(session: Session, record: DecisionSession) -> DecisionSession:
    record.verdict = decide(consensus_answers(_answers(session, record.id))).to_record()
    record.updated_at = utc_now()
    session.add(record)
    return record


def _load(session: Session, session_id: int) -> DecisionSession:
    record = session.get(DecisionSession, session_id)
    if record is None:
        raise NotFoundError(
            f"Decision session #{session_id} does not exist: it may have been deleted. "
            "Pick another session or create a new one."
        )
    return record


def _ensure_name_free(session: Session, name: str) -> None:
    taken = session.exec(select(DecisionSession).where(
        func.lower(DecisionSession.name) == name.lower())).first()
    if taken is not None:
        raise AlreadyExistsError(f'A decision session named "{taken.name}" already exists: '
                                 "open it, or choose another name.")


def _valid_name(name: str) -> str:
    return _valid_label(name, 'Give the session a name, e.g. "Support bot, Q3".', "Session names")


def _valid_participant(participant: str) -> str:
    return _valid_label(participant, "Enter your name before answering, so the room can see who "
                        "said what.", "Participant names")


def _valid_label(value: str, when_empty: str, what: str) -> str:
    value = (value or "").strip()
    if not value:
        raise InvalidInputError(when_empty)
    if len(value) > MAX_NAME_LENGTH:
        raise InvalidInputError(f"{what} are at most {MAX_NAME_LENGTH} characters.")
    return value


def _validate_answer(question: str, answer: Optional[str]) -> None:
    allowed = QUESTION_ANSWERS.get(question)
    if allowed is None:
        raise InvalidInputError(f"Unknown question {question!r}.")
    if answer is not None and answer not in allowed:
        raise InvalidInputError(f"{answer!r} is not an answer to {question!r}; "
                                f"choose one of {', '.join(allowed)}.")
