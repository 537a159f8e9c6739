"""Roles enforced in core: what is removed or changed for everyone needs an admin, the refusal names the
role, nothing changes, and an admin's removal is in the audit log."""

from __future__ import annotations

import pytest

from core.access import LOCAL_ADMIN, Actor, Role
from core.access.audit import audit_log
from core.checklist.sessions import (answers_by_participant, create_session, delete_session, list_sessions,
                                     record_answer)
from core.errors import AccessDeniedError
from core.evaluation.demo_job import submit_demo
from core.jobs import queue, scheduler
from core.playground import ask_and_save, list_history
from core.rag.config import KnowledgeBaseConfig
from core.rag.index_job import submit_index, submit_reindex
from core.evaluation.runs import get_run
from core.finetune.adapters import remove_adapter
from core.history.baselines import set_baseline
from core.rag.knowledge import remove_knowledge_base
from tests.history.runs_fixtures import eval_set, stored_run
from tests.training_fixtures import wait_until

REVIEWER = Actor("ana@example.com", Role.REVIEWER)


@pytest.mark.parametrize("remove, doing", [
    (lambda db: delete_session(db, create_session(db, "Support bot", actor=LOCAL_ADMIN).id, REVIEWER),
     "delete a decision session"),
    (lambda db: remove_knowledge_base(db, "handbook", REVIEWER), "remove a knowledge base"),
    (lambda db: remove_adapter(db, "house-style", REVIEWER), "remove an adapter"),
    (lambda db: set_baseline(db, stored_run(db, eval_set(db, questions=2), {"token_f1": [1.0, 0.0]}).id, REVIEWER),
     "set a baseline"),
])
def test_a_reviewer_cannot_remove_or_set_for_everyone_and_is_told_the_role_needed(db, remove, doing):
    with pytest.raises(AccessDeniedError, match=f"To {doing} you need the admin role; ana@example.com is a reviewer"):
        remove(db)
    assert audit_log(db, LOCAL_ADMIN) == []


def test_an_admins_removal_and_baseline_are_audited_with_who_and_what(db):
    record = create_session(db, "Support bot", actor=LOCAL_ADMIN)
    delete_session(db, record.id, Actor("lead@example.com", Role.ADMIN))
    run = stored_run(db, eval_set(db, questions=2), {"token_f1": [1.0, 0.0]})
    set_baseline(db, run.id, LOCAL_ADMIN)
    assert list_sessions(db) == [] and get_run(db, run.id).is_baseline
    assert [(e.actor, e.action, e.target, e.after) for e in reversed(audit_log(db, LOCAL_ADMIN))] == [
        ("lead@example.com", "sessions.delete", "decision session Support bot", None),
        ("local", "baselines.set", "eval set s", {"run": run.id}),
    ]


def test_a_signed_in_reviewer_answers_under_their_own_name_only_and_a_viewer_not_at_all(db):
    record = create_session(db, "Support bot", actor=LOCAL_ADMIN)
    ana = Actor("ana@example.com", Role.REVIEWER, signed_in=True)
    record_answer(db, record.id, "ana@example.com", "checklist.gpu", "no", ana)
    with pytest.raises(AccessDeniedError, match="ana@example.com answers under their own name, not as 'Bo'"):
        record_answer(db, record.id, "Bo", "checklist.gpu", "yes", ana)
    with pytest.raises(AccessDeniedError, match="To answer in a workshop you need the reviewer role"):
        record_answer(db, record.id, "cy@example.com", "checklist.gpu", "yes",
                      Actor("cy@example.com", Role.VIEWER, signed_in=True))
    assert answers_by_participant(db, record.id) == {"ana@example.com": {"checklist.gpu": "no"}}


def test_a_viewer_cannot_start_or_grade_runs_and_a_signed_in_reviewer_labels_as_themselves(db):
    from core.evaluation.labels import run_labels, save_label
    from core.evaluation.runs import results, submit_eval

    viewer = Actor("vi@example.com", Role.VIEWER, signed_in=True)
    name = eval_set(db, questions=2)
    with pytest.raises(AccessDeniedError, match="To start an eval run you need the reviewer role"):
        submit_eval(db, name, ["local"], actor=viewer)
    run = stored_run(db, name, {"token_f1": [1.0, 0.0]})
    answer = results(db, run.id)[0]
    with pytest.raises(AccessDeniedError, match="To label answers you need the reviewer role"):
        save_label(db, answer.id, "vi@example.com", "correct", actor=viewer)
    ana = Actor("ana@example.com", Role.REVIEWER, signed_in=True)
    with pytest.raises(AccessDeniedError, match="ana@example.com labels under their own name, not as 'Bo'"):
        save_label(db, answer.id, "Bo", "correct", actor=ana)
    save_label(db, answer.id, "ana@example.com", "correct", actor=ana)
    assert [(label.reviewer, label.label) for label in run_labels(db, run.id)] == [("ana@example.com", "correct")]


VIEWER = Actor("vi@example.com", Role.VIEWER, signed_in=True)


@pytest.mark.parametrize("write, doing, role", [
    (lambda db: create_session(db, "Support bot", actor=VIEWER), "open a decision session", "reviewer"),
    (lambda db: ask_and_save(db, "Hello?", ["local"], actor=VIEWER), "ask in the Playground", "reviewer"),
    (lambda db: submit_index(db, "docs", KnowledgeBaseConfig(source_path="docs"), actor=REVIEWER),
     "create a knowledge base", "admin"),
    (lambda db: submit_reindex(db, "docs", actor=REVIEWER), "re-index a knowledge base", "admin"),
    (lambda db: submit_demo(db, "ledgerly", REVIEWER), "set up a demo", "admin"),
])
def test_each_write_names_the_role_it_needs_and_changes_nothing(db, write, doing, role):
    with pytest.raises(AccessDeniedError, match=f"To {doing} you need the {role} role"):
        write(db)
    assert list_sessions(db) == [] and queue.list_jobs(db) == [] and list_history(db) == []


def test_sessions_runs_and_jobs_record_who_made_them(db):
    from core.evaluation.runs import submit_eval

    lead = Actor("lead@example.com", Role.ADMIN, signed_in=True)
    assert create_session(db, "Support bot", actor=lead).created_by == "lead@example.com"
    run = submit_eval(db, eval_set(db, questions=2), ["local:/no/such/model"], actor=lead)
    try:
        assert run.created_by == "lead@example.com" and queue.get_job(db, run.job_id).created_by == "lead@example.com"
    finally:  # its worker need not run on
        scheduler.cancel(db, run.job_id)
        wait_until(db, run.job_id, [queue.CANCELLED, queue.SUCCEEDED, queue.FAILED])
