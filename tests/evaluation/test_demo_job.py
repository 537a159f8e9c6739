"""Setting up a demo as a background job: a real worker indexes with progress, stops on cancel with nothing
half made, and resumes by making only what is missing."""

from __future__ import annotations

import pytest

from core.access import LOCAL_ADMIN, Actor, Role
from core.errors import InvalidInputError
from core.evaluation.demo import DEMOS
from core.evaluation.demo_job import submit_demo
from core.evaluation.sets import list_eval_sets
from core.finetune.datasets import list_datasets
from core.jobs import queue, scheduler
from core.rag.knowledge import list_knowledge_bases
from tests.training_fixtures import wait_for_progress, wait_until

LEDGERLY = ["knowledge base ledgerly-v1", "eval set ledgerly-v1", "knowledge base ledgerly-v2", "eval set ledgerly-v2",
            "dataset ledgerly-docs-v1", "eval set ledgerly-training", "eval set ledgerly-paraphrased",
            "eval set general-knowledge"]


@pytest.mark.slow  # the embedding model, loaded by a worker or the CLI
def test_a_cancelled_demo_keeps_whole_steps_only_and_resuming_makes_the_rest(db):
    job = submit_demo(db, "ledgerly", Actor("lead@example.com", Role.ADMIN, signed_in=True))
    with pytest.raises(InvalidInputError, match=rf"Job {job.id} \(.+\) is \w+ on demo ledgerly already"):
        submit_demo(db, "ledgerly", LOCAL_ADMIN)
    wait_for_progress(db, job.id, "knowledge base ledgerly-v1: ")  # indexing it has begun
    scheduler.cancel(db, job.id)
    job = wait_until(db, job.id, [queue.CANCELLED, queue.SUCCEEDED, queue.FAILED])
    assert job.status == queue.CANCELLED, job.error
    assert job.result == {"demo": "ledgerly"}
    made = list_knowledge_bases(db)  # ledgerly-v1 removed whole, or indexed had its step ended before the cancel
    assert [kb.name for kb in made] in ([], ["ledgerly-v1"]) and all(kb.generation == 1 for kb in made)

    job = wait_until(db, scheduler.resume(db, job.id).id, [queue.SUCCEEDED, queue.FAILED])
    assert job.status == queue.SUCCEEDED, job.error
    assert sorted(job.result["created"] + job.result["existing"]) == sorted(LEDGERLY)
    assert "knowledge base ledgerly-v2" in job.result["created"]
    assert (job.progress, job.progress_text) == (1.0, "Done")
    assert [s.name for s in list_eval_sets(db)] == ["general-knowledge", "ledgerly-paraphrased", "ledgerly-training",
                                                    "ledgerly-v1", "ledgerly-v2"]
    made = list_knowledge_bases(db) + list_eval_sets(db) + list_datasets(db)  # by the demo's submitter
    assert len(made) == 8 and {row.created_by for row in made} == {"lead@example.com"}


def test_an_unknown_demo_is_refused_before_a_job_exists(db):
    with pytest.raises(InvalidInputError, match="No demo named 'nope': choose from ledgerly, urllib3, jinja2"):
        submit_demo(db, "nope", LOCAL_ADMIN)
    assert queue.list_jobs(db) == []


def test_each_demo_is_described_once_and_the_cli_help_reads_it(capsys):
    from core.cli import main

    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    for demo in DEMOS.values():
        assert demo.name in help_text and " ".join(demo.description.split()) in help_text
