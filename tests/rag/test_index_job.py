"""Indexing as a background job: a real worker builds, cancels and fails, and the live generation
is never lost."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from core.access import LOCAL_ADMIN
from core.errors import InvalidInputError
from core.jobs import queue, scheduler
from core.rag.config import KnowledgeBaseConfig
from core.rag.index_job import submit_index, submit_reindex
from core.rag.indexer import generation_dir
from core.rag.knowledge import create_knowledge_base, get_knowledge_base, open_retriever
from tests.rag.rag_fixtures import copy_jinja_sources
from tests.training_fixtures import wait_until


@pytest.fixture
def code(tmp_path) -> Path:
    return copy_jinja_sources(tmp_path / "code")


@pytest.mark.slow  # the embedding model, loaded by a worker or the CLI
def test_a_knowledge_base_is_indexed_by_a_job_and_can_be_searched(db, docs):
    row, job = submit_index(db, "team", KnowledgeBaseConfig(source_path=str(docs)), actor=LOCAL_ADMIN)
    assert get_knowledge_base(db, "team").status == "indexing"  # registered at once, nothing live yet
    job = wait_until(db, job.id, [queue.SUCCEEDED, queue.FAILED])
    assert job.status == queue.SUCCEEDED, job.error
    assert get_knowledge_base(db, "team").generation == 1 and job.result["chunks"] > 0
    assert open_retriever(db, "team").search("token", k=1)
    reindex = submit_reindex(db, "team", actor=LOCAL_ADMIN)
    assert wait_until(db, reindex.id, [queue.SUCCEEDED]).result["reused_files"] > 0


def test_a_source_with_nothing_to_read_is_refused_before_a_job_exists(db, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidInputError, match="No readable text files"):
        submit_index(db, "empty", KnowledgeBaseConfig(source_path=str(tmp_path / "empty")), actor=LOCAL_ADMIN)
    assert queue.list_jobs(db) == [] and not list(db.engine.connect().exec_driver_sql("SELECT * FROM knowledge_bases"))


@pytest.mark.slow  # the embedding model, loaded by a worker or the CLI
def test_a_cancelled_reindex_keeps_the_live_generation(db, code):
    create_knowledge_base(db, "code", KnowledgeBaseConfig(source_path=str(code)))
    for path in code.iterdir():  # every file changed: everything must be embedded again
        path.write_text(path.read_text() + "\n# changed\n")
    job = submit_reindex(db, "code", actor=LOCAL_ADMIN)
    with pytest.raises(InvalidInputError,
                       match=rf"Job {job.id} \(re-index code\) is \w+ on knowledge base code already"):
        submit_reindex(db, "code", actor=LOCAL_ADMIN)
    wait_until(db, job.id, [queue.RUNNING])
    while queue.get_job(db, job.id).progress < 0.15:  # embedding has begun
        pass
    scheduler.cancel(db, job.id)
    assert wait_until(db, job.id, [queue.CANCELLED, queue.SUCCEEDED]).status == queue.CANCELLED
    assert get_knowledge_base(db, "code").generation == 1 and not generation_dir("code", 2).exists()
    assert open_retriever(db, "code").search("TemplateSyntaxError", k=1)


def test_a_failed_reindex_keeps_the_live_generation_and_says_why(db, docs):
    create_knowledge_base(db, "team", KnowledgeBaseConfig(source_path=str(docs)))
    shutil.rmtree(docs)
    job = wait_until(db, submit_reindex(db, "team", actor=LOCAL_ADMIN).id, [queue.FAILED, queue.SUCCEEDED])
    assert job.status == queue.FAILED and "does not exist" in job.error
    row = get_knowledge_base(db, "team")
    assert row.generation == 1 and "the previous index is still in use" in row.error
    assert open_retriever(db, "team").search("token", k=1)
