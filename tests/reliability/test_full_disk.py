"""A disk that fills up while a job writes: the job fails saying so, what it had made before (a checkpoint, the
live index generation) is intact, and once there is room again a resume finishes the job.

The full disk is simulated in the worker alone (full_disk/sitecustomize.py), for writes under one folder:
RLIMIT_FSIZE would cap the lab's SQLite files as well, and chmod does not stop root."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from core.access import LOCAL_ADMIN
from core.finetune.job import checkpoint_dir, submit_training
from core.finetune.trainer import last_checkpoint
from core.jobs import queue, scheduler
from core.llm.adapters import get_adapter
from core.rag.config import KnowledgeBaseConfig
from core.rag.index_job import submit_reindex
from core.rag.indexer import collection_name, generation_dir
from core.rag.knowledge import create_knowledge_base, get_knowledge_base, open_retriever
from core.rag.vectorstore import open_collections
from tests.training_fixtures import metric_steps, wait_until

pytestmark = pytest.mark.reliability

FULL_DISK_ENV = "RAGTUNE_TEST_FULL_DISK"
DISK_FULL_MESSAGE = r"A write to .* failed: the disk is full \(No space left on device\)\. Free some space, then resume"


@pytest.fixture
def full_disk(monkeypatch):
    """`full_disk(glob)`: workers started from now on cannot write files whose paths match `glob`;
    `full_disk(None)` frees the space again. The hook is a sitecustomize, which reads the glob as a worker's
    interpreter starts: workers start cold here, not forked by the warm launcher."""
    monkeypatch.setenv("RAGTUNE_JOB_LAUNCHER", "off")
    hook = str(Path(__file__).parent / "full_disk")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [hook, os.environ.get("PYTHONPATH")])))

    def fill(glob):
        if glob is None:
            monkeypatch.delenv(FULL_DISK_ENV)
        else:
            monkeypatch.setenv(FULL_DISK_ENV, glob)
    return fill


def test_training_on_a_full_disk_fails_clearly_and_resumes_from_the_last_whole_checkpoint(db, training, full_disk):
    full_disk("*/checkpoints/checkpoint-4/*")  # the first checkpoint fits, the second does not
    job = submit_training(db, training(max_steps=6, checkpoint_every=2), LOCAL_ADMIN)
    job = wait_until(db, job.id, [queue.FAILED, queue.SUCCEEDED])
    assert job.status == queue.FAILED
    assert re.match(DISK_FULL_MESSAGE, job.error), job.error
    saved = checkpoint_dir(job.id)
    assert (saved / "checkpoint-4").is_dir() and not (saved / "checkpoint-4" / "trainer_state.json").exists()
    assert last_checkpoint(saved) == saved / "checkpoint-2"  # the save cut short is passed over

    full_disk(None)
    scheduler.resume(db, job.id)
    job = wait_until(db, job.id, [queue.FAILED, queue.SUCCEEDED])
    assert job.status == queue.SUCCEEDED, job.error
    assert metric_steps(db, job.id, "train_loss") == [1, 2, 3, 4, 5, 6]  # each step once
    assert get_adapter(db, "tiny-adapter").job_id == job.id


def test_a_reindex_on_a_full_disk_fails_clearly_and_the_live_generation_keeps_serving(db, notes, full_disk):
    create_knowledge_base(db, "notes", KnowledgeBaseConfig(source_path=str(notes)))
    (notes / "refunds.md").write_text("# Refunds\n\nRefunds now take ten business days.\n")
    full_disk("*/knowledge/notes/g2/*")
    job = wait_until(db, submit_reindex(db, "notes", actor=LOCAL_ADMIN).id, [queue.FAILED, queue.SUCCEEDED])
    assert job.status == queue.FAILED
    assert re.match(DISK_FULL_MESSAGE, job.error), job.error
    row = get_knowledge_base(db, "notes")
    assert row.generation == 1 and row.error.startswith("Re-index failed, the previous index is still in use: A write")
    assert not generation_dir("notes", 2).exists()  # the half-written generation is gone
    assert [c.name for c in open_collections().client.list_collections()] == [collection_name("notes", 1)]
    assert "five business days" in open_retriever(db, "notes").search("refunds", k=1)[0].text

    full_disk(None)
    scheduler.resume(db, job.id)
    job = wait_until(db, job.id, [queue.FAILED, queue.SUCCEEDED])
    assert job.status == queue.SUCCEEDED, job.error
    assert get_knowledge_base(db, "notes").generation == 2
    assert "ten business days" in open_retriever(db, "notes").search("refunds", k=1)[0].text
