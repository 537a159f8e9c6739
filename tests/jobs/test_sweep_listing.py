"""A sweep's members are the training jobs whose config names it: found by a JSON path, which SQLite and
PostgreSQL spell differently (the sweep's own tests run on SQLite only)."""

from __future__ import annotations

from core.finetune.sweep import sweep_jobs
from core.jobs import queue


def test_a_sweeps_members_are_found_by_its_name_on_both_stores(db):
    first = queue.submit_job(db, "train", {"training": {"adapter_name": "a"}, "sweep": {"name": "s"}})
    queue.submit_job(db, "train", {"training": {"adapter_name": "b"}})
    other = queue.submit_job(db, "train", {"training": {"adapter_name": "c"}, "sweep": {"name": "t"}})
    queue.submit_job(db, "eval", {"run_id": 1, "sweep": {"name": "s"}})  # only training jobs are members
    assert [job.id for job in sweep_jobs(db, "s")] == [first.id]
    assert [job.id for job in sweep_jobs(db)] == [first.id, other.id]
    assert sweep_jobs(db, "u") == []
