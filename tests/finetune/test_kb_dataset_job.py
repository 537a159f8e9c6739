"""Writing a dataset from a knowledge base as a background job: a real worker asks a system behind a local
fake OpenAI-compatible server, stops between prompts on cancel, and writes it all again on resume."""

from __future__ import annotations

import json

import pytest
from tests.llm.fake_servers import FakeServer, Reply, openai_chat

from core.access import LOCAL_ADMIN, Actor, Role
from core.errors import AlreadyExistsError, InvalidInputError, NotFoundError
from core.finetune.builders import Split, import_sample
from core.finetune.datasets import get_dataset, list_datasets
from core.finetune.from_kb import kb_passages
from core.finetune.kb_dataset_job import submit_kb_dataset
from core.jobs import queue, scheduler
from tests.training_fixtures import wait_for_progress, wait_until

PAIRS = json.dumps([{"question": "How long is a session token valid?", "answer": "One hour."}])


def test_a_cancelled_job_stops_between_prompts_saves_nothing_and_resume_writes_it_all(db, base, team_kb):
    lead = Actor("lead@example.com", Role.ADMIN, signed_in=True)
    chunks = len(kb_passages(db, team_kb))
    with FakeServer(Reply(body=openai_chat(PAIRS).body, delay_s=0.3)) as server:
        spec = f"openai:served-model?base_url={server.url}/v1"
        job = submit_kb_dataset(db, "team-qa", team_kb, spec, limit=chunks, pairs_per_chunk=1, split=Split(base=base),
                                actor=lead)
        wait_for_progress(db, job.id, "Writing pairs: 1/")  # the second prompt is asked
        scheduler.cancel(db, job.id)
        job = wait_until(db, job.id, [queue.CANCELLED, queue.SUCCEEDED, queue.FAILED])
        assert job.status == queue.CANCELLED, job.error
        asked = len(server.requests)
        assert asked < chunks and list_datasets(db) == []

        job = wait_until(db, scheduler.resume(db, job.id).id, [queue.SUCCEEDED, queue.FAILED])
    assert job.status == queue.SUCCEEDED, job.error
    assert len(server.requests) == asked + chunks  # from the first chunk again
    assert {key: job.result[key] for key in ("dataset", "examples", "chunks", "bad_replies")} == {
        "dataset": "team-qa", "examples": chunks, "chunks": chunks, "bad_replies": 0}
    dataset = get_dataset(db, "team-qa")
    assert dataset.details["system"] == spec
    assert dataset.created_by == job.created_by == "lead@example.com"  # the worker made it for its submitter


def test_a_request_that_cannot_be_answered_is_refused_before_a_job_exists(db, team_kb):
    import_sample(db, "taken", actor=LOCAL_ADMIN)
    with pytest.raises(AlreadyExistsError, match="A dataset named 'taken' exists"):
        submit_kb_dataset(db, "taken", team_kb, "local", actor=LOCAL_ADMIN)
    with pytest.raises(NotFoundError, match="No knowledge base named 'nope'"):
        submit_kb_dataset(db, "new", "nope", "local", actor=LOCAL_ADMIN)
    with pytest.raises(InvalidInputError, match="pairs per chunk between 1 and 10"):
        submit_kb_dataset(db, "new", team_kb, "local", pairs_per_chunk=11, actor=LOCAL_ADMIN)
    with pytest.raises(InvalidInputError, match="validation fraction"):
        submit_kb_dataset(db, "new", team_kb, "local", split=Split(validation_fraction=0), actor=LOCAL_ADMIN)
    with pytest.raises(InvalidInputError, match="nowhere"):
        submit_kb_dataset(db, "new", team_kb, "nowhere:model", actor=LOCAL_ADMIN)
    assert queue.list_jobs(db) == []
