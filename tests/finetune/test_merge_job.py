"""Merging an adapter as a background job: a real worker writes a folder `local:PATH` loads without peft."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.access import LOCAL_ADMIN
from core.cli import main
from core.errors import InvalidInputError, NotFoundError
from core.finetune.adapters import merge_adapter, merged_dir
from core.finetune.merge_job import submit_merge
from core.jobs import queue
from core.jobs.kinds import JobCancelled
from core.llm.adapters import get_adapter
from core.llm.base import GenerationOptions, Prompt
from core.llm.local import LocalBackend
from tests.training_fixtures import wait_until


def test_a_merge_job_writes_a_model_folder_and_the_cli_follows_one(db, adapter, capsys):
    job = submit_merge(db, adapter, actor=LOCAL_ADMIN)
    with pytest.raises(InvalidInputError, match=rf"Job {job.id} \(.+\) is \w+ on adapter tiny-lora already"):
        submit_merge(db, adapter, actor=LOCAL_ADMIN)
    job = wait_until(db, job.id, [queue.SUCCEEDED, queue.FAILED])
    assert job.status == queue.SUCCEEDED, job.error
    folder = Path(job.result["merged_path"])
    assert folder == merged_dir() / adapter and get_adapter(db, adapter).merged_path == str(folder)
    merged = LocalBackend(str(folder), dtype="float32")
    assert merged.generate(Prompt.ask("Question number 3?"), GenerationOptions(max_new_tokens=4)).text

    assert main(["adapter", "merge", adapter]) == 0  # made once, then reused
    out, err = capsys.readouterr()
    assert out.strip() == str(folder) and "[succeeded]" in err


def test_a_merge_stops_between_steps_and_leaves_no_folder(db, adapter):
    steps = []

    def cancel_after_loading(what: str, fraction: float) -> None:
        steps.append(what)
        if fraction > 0:
            raise JobCancelled({"adapter": adapter})

    with pytest.raises(JobCancelled):
        merge_adapter(db, adapter, cancel_after_loading)
    base = get_adapter(db, adapter).base_model
    assert steps == [f"Loading the base model {base}", "Merging tiny-lora into its weights"]
    assert get_adapter(db, adapter).merged_path is None and not merged_dir().exists()


def test_merging_an_adapter_that_does_not_exist_is_refused_before_a_job_exists(db, capsys):
    with pytest.raises(NotFoundError, match="No adapter named 'nope'"):
        submit_merge(db, "nope", actor=LOCAL_ADMIN)
    assert main(["adapter", "merge", "nope"]) == 2 and "No adapter named 'nope'" in capsys.readouterr().err
    assert queue.list_jobs(db) == []
