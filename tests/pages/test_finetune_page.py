"""The Fine-tune page under AppTest: empty, a dataset, a real training job, adapters; writing a dataset from a
knowledge base and merging an adapter are jobs the page starts and follows."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from core.finetune.kb_dataset_job import KbDatasetJob
from core.finetune.merge_job import MergeJob
from core.jobs import queue
from core.rag.config import KnowledgeBaseConfig
from core.rag.knowledge import create_knowledge_base
from tests.finetune.sweep_fixtures import METRIC, stored_member
from tests.llm.fake_servers import FakeServer, openai_chat
from tests.pages.conftest import open_page
from tests.training_fixtures import wait_until


def finetune() -> AppTest:
    return open_page("pages/finetune.py")


def test_an_empty_store_says_where_to_start():
    at = finetune()
    assert not at.exception and not at.error
    assert any("No dataset yet" in i.value for i in at.info)
    assert any("No training job yet" in c.value for c in at.caption)


def test_the_sample_dataset_is_added_with_its_statistics():
    at = finetune()
    at.button(key="ft_sample").click().run()
    assert not at.exception and not at.error
    assert any("Added house-style" in s.value for s in at.success)
    assert at.selectbox(key="ft_dataset").value == "house-style"
    metrics = {m.label: m.value for m in at.metric}
    assert int(metrics["Train"]) > 50 and metrics["Possible leaks"] == "0"


def test_a_duplicate_dataset_name_is_refused_with_a_message(db):
    at = finetune()
    at.button(key="ft_sample").click().run()
    at.button(key="ft_sample").click().run()
    assert not at.exception
    assert any("exists" in e.value for e in at.error)


def test_a_job_launched_from_the_form_runs_and_its_adapter_can_be_tried(db, dataset, tiny_model_dir):
    at = finetune()
    assert at.selectbox(key="ft_dataset").value == "tiny-style"
    at.text_input(key="ft_adapter_name").input("from-the-page")
    at.text_input(key="ft_base").input(str(tiny_model_dir))
    at.number_input(key="ft_max_steps").set_value(4)
    at.number_input(key="ft_batch").set_value(4)
    at.selectbox(key="ft_precision").set_value("fp32")
    at.button(key="ft_launch").click().run()
    assert not at.exception and not at.error
    assert any("Job 1 running" in s.value and "steps" in s.value for s in at.success)
    job = wait_until(db, 1, [queue.SUCCEEDED, queue.FAILED])
    assert job.status == queue.SUCCEEDED, job.error
    at.run()
    assert any("Adapter `from-the-page` is ready" in s.value for s in at.success)
    assert at.selectbox(key="ft_adapter").value == "from-the-page"
    at.button(key="ft_try").click().run()
    assert at.multiselect(key="playground_systems").value == ["local", "local?adapter=from-the-page"]


def test_a_training_config_the_form_cannot_accept_is_explained(db, dataset, tmp_path):
    at = finetune()
    at.text_input(key="ft_base").input(str(tmp_path / "nowhere"))
    at.button(key="ft_launch").click().run()
    assert not at.exception
    assert any(f"{tmp_path / 'nowhere'} does not exist" in e.value for e in at.error)
    at.text_input(key="ft_base").input("/etc")  # a folder the operator did not offer
    at.button(key="ft_launch").click().run()
    assert any("/etc is outside the folders the lab may read" in e.value for e in at.error)
    assert queue.list_jobs(db) == []


@pytest.mark.slow  # the embedding model, loaded by a worker or the CLI
def test_pairs_from_a_knowledge_base_are_written_by_a_job_the_page_follows(db, tmp_path, monkeypatch):
    monkeypatch.setenv("RAGTUNE_ALLOWED_ROOTS", str(tmp_path))
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "billing.md").write_text("# Billing\n\nRefunds reach the original card within five days.\n")
    create_knowledge_base(db, "billing", KnowledgeBaseConfig(source_path=str(tmp_path / "docs")))
    pairs = json.dumps([{"question": "When do refunds arrive?", "answer": "Within five days."}])
    with FakeServer(openai_chat(pairs)) as server:
        at = finetune()
        at.text_input(key="ft_kb_name").input("billing-qa")
        at.text_input(key="ft_kb_system").input(f"openai:served-model?base_url={server.url}/v1")
        at.number_input(key="ft_kb_limit").set_value(1)
        at.button(key="ft_kb_build").click().run()
        assert not at.exception and not at.error
        assert any("Writing billing-qa in the background (job 1)" in s.value for s in at.success)
        [job] = queue.list_jobs(db)
        assert job.kind == KbDatasetJob.name
        assert wait_until(db, job.id, [queue.SUCCEEDED, queue.FAILED]).status == queue.SUCCEEDED
    at.run()
    assert any("Built billing-qa: 1 pairs from 1 chunk(s); 0 unusable reply(ies)." in c.value for c in at.caption)
    assert at.selectbox(key="ft_dataset").options == ["billing-qa"]


def test_merging_an_adapter_is_a_job_the_page_follows(db, adapter):
    at = finetune()
    at.button(key="ft_merge").click().run()
    assert not at.exception and not at.error
    assert any("Merging tiny-lora in the background (job 1)" in s.value for s in at.success)
    [job] = queue.list_jobs(db)
    assert job.kind == MergeJob.name
    job = wait_until(db, job.id, [queue.SUCCEEDED, queue.FAILED])
    assert job.status == queue.SUCCEEDED, job.error
    at.run()
    assert any(f"ask it as `local:{job.result['merged_path']}`" in c.value for c in at.caption)


def test_a_sweeps_table_marks_its_best_member_and_a_mistyped_grid_is_refused(db, dataset):
    sweep = {"name": "grid", "eval_set": "set", "metric": METRIC, "higher_is_better": True}
    stored_member(db, sweep, 1e-4, loss=0.9, mean=0.7)
    stored_member(db, sweep, 3e-4, loss=0.5, mean=0.2)
    at = finetune()
    assert not at.exception and not at.error
    assert at.selectbox(key="ft_sweep_select").value == "grid"
    table = next(frame.value for frame in at.dataframe if "Best" in frame.value.columns)
    assert list(table["Best"]) == ["★", ""] and list(table["Learning rate"]) == ["1e-4", "3e-4"]
    assert table[METRIC][0] == "0.70 [0.60, 0.80] (n=20)"
    assert any(f"Best: grid-lr1e-4-r8, by the best mean {METRIC} (0.70)." in c.value for c in at.caption)
    at.text_input(key="ft_sweep_lrs").input("1e-4, fast")
    at.button(key="ft_sweep_start").click().run()
    assert any("Learning rates must be numbers separated by commas" in e.value for e in at.error)
    assert len(queue.list_jobs(db)) == 2


def test_labelled_answers_become_a_preferences_dataset_that_the_form_trains_with_dpo(db):
    from core.access import LOCAL_ADMIN
    from core.evaluation.labels import save_label
    from core.evaluation.runs import results
    from tests.diagnosis.fixtures import BASE, RAG, Answer, reference_set, stored_answers_run

    reference_set(db, "support", ["Paris", "Rome"])
    run = stored_answers_run(db, "support", {BASE: [Answer("Lyon."), Answer("Milan.")],
                                             RAG: [Answer("Paris."), Answer("Rome.")]})
    for result in results(db, run.id):
        save_label(db, result.id, "reviewer", "correct" if result.system == RAG else "wrong", actor=LOCAL_ADMIN)
    at = finetune()
    at.text_input(key="ft_pref_name").input("support-pairs")
    at.button(key="ft_pref_build").click().run()
    assert not at.exception and not at.error
    assert any("Built support-pairs: " in s.value for s in at.success)
    assert at.selectbox(key="ft_dataset").value == "support-pairs"
    assert any("trained with DPO" in c.value for c in at.caption)
    assert at.number_input(key="ft_beta").value == 0.1
    assert at.number_input(key="ft_lr_dpo").value == 5e-5
