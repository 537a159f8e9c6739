"""Datasets, eval sets, merges and session edits are for admins: a viewer or a reviewer is refused with the role
named and nothing changes; an admin's rows record who made them, and their removals and edits are audited."""

from __future__ import annotations

import json

import pytest

from core.access import LOCAL_ADMIN, Actor, Role
from core.access.audit import audit_log
from core.checklist.sessions import create_session, get_session, update_session
from core.errors import AccessDeniedError
from core.evaluation.sets import (get_eval_set, import_eval_file, import_eval_set, import_eval_upload, list_eval_sets,
                                  remove_eval_set, resolve_eval_set)
from core.finetune import builders
from core.finetune.datasets import create_dataset, get_dataset, list_datasets, remove_dataset
from core.finetune.kb_dataset_job import submit_kb_dataset
from core.finetune.merge_job import submit_merge
from core.jobs import queue

DEMO_SET = "eval_sets/demo/ledgerly-v1.jsonl"
EVAL_SET = '{"id": "q1", "question": "Refund window?"}\n'
EXAMPLES = [{"messages": [{"role": "user", "content": f"Question {n}?"}, {"role": "assistant", "content": "Yes."}]}
            for n in range(4)]
LEAD = Actor("lead@example.com", Role.ADMIN, signed_in=True)

CREATE_DATASET = "create a dataset"
WRITES = [
    (lambda db, actor: create_dataset(db, "style", EXAMPLES, "import", "messages", questions=[], actor=actor),
     CREATE_DATASET),
    (lambda db, actor: builders.import_jsonl(db, "style", b"", "style.jsonl", actor=actor), CREATE_DATASET),
    (lambda db, actor: builders.import_sample(db, actor=actor), CREATE_DATASET),
    (lambda db, actor: builders.from_git(db, "history", ".", actor=actor), CREATE_DATASET),
    (lambda db, actor: builders.from_knowledge_base(db, "qa", "docs", "local", actor=actor), CREATE_DATASET),
    (lambda db, actor: submit_kb_dataset(db, "qa", "docs", "local", actor=actor), CREATE_DATASET),
    (lambda db, actor: submit_merge(db, "house-style", actor=actor), "merge an adapter"),
    (lambda db, actor: import_eval_set(db, "support", EVAL_SET, "test", actor=actor), "import an eval set"),
    (lambda db, actor: import_eval_upload(db, "support", EVAL_SET.encode(), "support.jsonl", actor=actor),
     "import an eval set"),
    (lambda db, actor: import_eval_file(db, DEMO_SET, actor=actor), "import an eval set"),
    (lambda db, actor: resolve_eval_set(db, DEMO_SET, actor=actor), "import an eval set"),
]


@pytest.fixture(params=[Actor("vi@example.com", Role.VIEWER, signed_in=True),
                        Actor("ana@example.com", Role.REVIEWER, signed_in=True)], ids=["viewer", "reviewer"])
def below_admin(request) -> Actor:
    return request.param


@pytest.mark.parametrize("write, doing", WRITES)
def test_creating_a_dataset_an_eval_set_or_a_merge_needs_an_admin_and_makes_nothing(db, below_admin, write, doing):
    with pytest.raises(AccessDeniedError, match=f"To {doing} you need the admin role; {below_admin.email} is a "
                                                f"{below_admin.role.label}"):
        write(db, below_admin)
    assert list_datasets(db) == [] and list_eval_sets(db) == [] and queue.list_jobs(db) == []


def test_removing_a_dataset_or_an_eval_set_and_editing_a_session_need_an_admin(db, below_admin, tiny_model_dir):
    create_dataset(db, "style", EXAMPLES, "import", "messages", base=str(tiny_model_dir), questions=[],
                   actor=LOCAL_ADMIN)
    import_eval_set(db, "support", EVAL_SET, "test", actor=LOCAL_ADMIN)
    record = create_session(db, "Support bot", "why", actor=LOCAL_ADMIN)
    for write, doing in [(lambda: remove_dataset(db, "style", actor=below_admin), "remove a dataset"),
                         (lambda: remove_eval_set(db, "support", actor=below_admin), "remove an eval set"),
                         (lambda: update_session(db, record.id, name="Renamed", actor=below_admin),
                          "rename or edit a decision session")]:
        with pytest.raises(AccessDeniedError, match=f"To {doing} you need the admin role"):
            write()
    assert [d.name for d in list_datasets(db)] == ["style"] and [s.name for s in list_eval_sets(db)] == ["support"]
    assert get_session(db, record.id).name == "Support bot" and audit_log(db, LOCAL_ADMIN) == []


def test_an_admins_datasets_and_eval_sets_record_who_made_them_and_their_removal_is_audited(db, tiny_model_dir):
    dataset = builders.import_jsonl(db, "style", "".join(json.dumps(e) + "\n" for e in EXAMPLES).encode(),
                                    "style.jsonl", builders.Split(base=str(tiny_model_dir)), actor=LEAD)
    assert dataset.created_by == get_dataset(db, "style").created_by == "lead@example.com"
    eval_set = import_eval_upload(db, "support", EVAL_SET.encode(), "support.jsonl", actor=LEAD)
    assert eval_set.created_by == get_eval_set(db, "support").created_by == "lead@example.com"
    assert import_eval_file(db, DEMO_SET, actor=LOCAL_ADMIN).created_by == "local"

    remove_dataset(db, "style", actor=LEAD)
    remove_eval_set(db, "support", actor=LOCAL_ADMIN)
    assert list_datasets(db) == [] and [s.name for s in list_eval_sets(db)] == ["ledgerly-v1"]
    assert [(e.actor, e.action, e.target, e.before) for e in reversed(audit_log(db, LOCAL_ADMIN))] == [
        ("lead@example.com", "datasets.remove", "dataset style", {"source": "import", "examples": 4}),
        ("local", "eval_sets.remove", "eval set support", {"source": "upload:support.jsonl", "questions": 1}),
    ]


def test_an_admins_session_edit_is_audited_with_the_name_and_context_before_and_after(db):
    record = create_session(db, "Support bot", "why", actor=LOCAL_ADMIN)
    update_session(db, record.id, name="Support bot, Q3", context="cost", actor=LEAD)
    assert get_session(db, record.id).name == "Support bot, Q3"
    [entry] = audit_log(db, LOCAL_ADMIN)
    assert (entry.actor, entry.action, entry.target, entry.before, entry.after) == (
        "lead@example.com", "sessions.update", "decision session Support bot",
        {"name": "Support bot", "context": "why"}, {"name": "Support bot, Q3", "context": "cost"})


def test_the_cli_acting_as_a_reviewer_is_refused_each_admin_command_with_the_role_named(db, capsys):
    from core.access.users import add_user
    from core.cli import main

    add_user(db, LOCAL_ADMIN, "ana@example.com", Role.REVIEWER, None)
    import_eval_set(db, "support", EVAL_SET, "test", actor=LOCAL_ADMIN)
    for command, doing in [(["evalset", "import", DEMO_SET], "import an eval set"),
                           (["evalset", "remove", "support"], "remove an eval set"),
                           (["dataset", "import", "--name", "style", "style.jsonl"], "create a dataset"),
                           (["dataset", "remove", "style"], "remove a dataset"),
                           (["adapter", "merge", "house-style"], "merge an adapter")]:
        assert main(["--as", "ana@example.com", *command]) == 2, command
        assert f"To {doing} you need the admin role; ana@example.com is a reviewer" in capsys.readouterr().err
    assert [s.name for s in list_eval_sets(db)] == ["support"] and queue.list_jobs(db) == []
