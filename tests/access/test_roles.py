"""Roles enforced in core: what is removed or changed for everyone needs an admin, the refusal names the
role, nothing changes, and an admin's removal is in the audit log."""

from __future__ import annotations

import pytest

from core.access import LOCAL_ADMIN, Actor, Role
from core.access.audit import audit_log
from core.checklist.sessions import create_session, delete_session, list_sessions
from core.errors import AccessDeniedError
from core.evaluation.runs import get_run
from core.finetune.adapters import remove_adapter
from core.history.baselines import set_baseline
from core.rag.knowledge import remove_knowledge_base
from tests.history.runs_fixtures import eval_set, stored_run

REVIEWER = Actor("ana@example.com", Role.REVIEWER)


@pytest.mark.parametrize("remove, doing", [
    (lambda db: delete_session(db, create_session(db, "Support bot").id, REVIEWER), "delete a decision session"),
    (lambda db: remove_knowledge_base(db, "handbook", REVIEWER), "remove a knowledge base"),
    (lambda db: remove_adapter(db, "house-style", REVIEWER), "remove an adapter"),
    (lambda db: set_baseline(db, stored_run(db, eval_set(db, questions=2), {"token_f1": [1.0, 0.0]}).id, REVIEWER),
     "set a baseline"),
])
def test_a_reviewer_cannot_remove_or_set_for_everyone_and_is_told_the_role_needed(db, remove, doing):
    with pytest.raises(AccessDeniedError, match=f"To {doing} you need the admin role; ana@example.com is a reviewer"):
        remove(db)
    assert audit_log(db) == []


def test_an_admins_removal_and_baseline_are_audited_with_who_and_what(db):
    record = create_session(db, "Support bot")
    delete_session(db, record.id, Actor("lead@example.com", Role.ADMIN))
    run = stored_run(db, eval_set(db, questions=2), {"token_f1": [1.0, 0.0]})
    set_baseline(db, run.id, LOCAL_ADMIN)
    assert list_sessions(db) == [] and get_run(db, run.id).is_baseline
    assert [(e.actor, e.action, e.target, e.after) for e in reversed(audit_log(db))] == [
        ("lead@example.com", "sessions.delete", "decision session Support bot", None),
        ("local", "baselines.set", "eval set s", {"run": run.id}),
    ]
