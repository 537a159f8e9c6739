"""The diagnosis as a user reaches it: `python -m core diagnose` (table, JSON, the CI gate, a fix carried out),
the advised re-index, and how a found mode bears on a workshop's verdict."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from core.access import LOCAL_ADMIN, Actor, Role
from core.checklist.sessions import create_session
from core.cli import main
from core.diagnosis import modes
from core.diagnosis.actions import ACTIONS, advised_config, carry_out
from core.diagnosis.bearing import SUPPORTS, WEAKENS, bearing
from core.diagnosis.diagnose import diagnose
from core.errors import AccessDeniedError, AlreadyExistsError
from core.evaluation.runs import list_runs
from core.jobs import queue, scheduler
from core.rag.config import KnowledgeBaseConfig
from core.rag.knowledge import get_knowledge_base, register_knowledge_base
from core.store.tables import Adapter
from tests.diagnosis.fixtures import RAG, Answer, reference_set, stored_answers_run
from tests.training_fixtures import wait_until


def low_recall_run(db):
    reference_set(db, "code", ["yes"] * 4)
    return stored_answers_run(db, "code", {RAG: [Answer(scores={"recall_at_5": r}) for r in (0.0, 0.0, 1.0, 0.0)]})


def test_the_cli_prints_each_mode_as_a_row_and_gates_ci_on_a_found_one(db, capsys):
    run = low_recall_run(db)
    assert main(["diagnose", "--run", str(run.id)]) == 0
    printed = capsys.readouterr().out
    assert "| 1 | FOUND | Retrieval recall below 70% | knowledge base docs |" in printed
    assert "recursive or code-aware chunking" in printed  # the seed's fix, under "What to do"
    assert main(["diagnose", "--run", str(run.id), "--fail-on-found"]) == 1
    capsys.readouterr()
    assert main(["diagnose", "--run", str(run.id), "--json"]) == 0
    [finding] = [f for f in json.loads(capsys.readouterr().out)["findings"] if f["mode"]["key"] == "retrieval_recall"]
    assert finding["status"] == "found" and finding["figures"][0]["n"] == 4


def test_a_finding_without_a_fix_to_carry_out_is_refused_by_number(db, capsys):
    reference_set(db, "code", ["yes"])
    run = stored_answers_run(db, "code", {RAG: [Answer(scores={"recall_at_5": 1.0})]})
    assert main(["diagnose", "--run", str(run.id), "--mode", "retrieval_recall", "--act", "1"]) == 2
    assert "Finding 1 has no fix the lab can carry out" in capsys.readouterr().err


def test_the_advised_settings_follow_the_seed_and_keep_what_already_holds():
    config, reasons = advised_config(KnowledgeBaseConfig(chunker="fixed", chunk_size=4000, neighbours=0))
    assert (config.chunker, config.chunk_size, config.neighbours) == ("code", 1000, 1)
    assert len(reasons) == 4 and "re-ranker" in reasons[-1]
    kept, _ = advised_config(config)
    assert kept == config


def test_the_advised_reindex_builds_a_second_knowledge_base_beside_the_first(db, tmp_path, monkeypatch):
    source = tmp_path / "docs"
    source.mkdir()
    (source / "guide.md").write_text("# Guide\n\nTokens expire after 30 minutes.\n")
    register_knowledge_base(db, "docs", KnowledgeBaseConfig(source_path=str(source), chunker="fixed"))
    run = low_recall_run(db)
    [finding] = diagnose(db, [run.id], modes=["retrieval_recall"]).findings
    viewer = Actor("viewer@example.com", Role.VIEWER, signed_in=True)
    with pytest.raises(AccessDeniedError, match="admin"):
        carry_out(db, finding.action.kind, finding.action.params, viewer)

    done = carry_out(db, finding.action.kind, finding.action.params, LOCAL_ADMIN)

    advised = get_knowledge_base(db, "docs-advised")
    assert (advised.config["chunker"], advised.config["neighbours"]) == ("code", 1)
    assert get_knowledge_base(db, "docs").config["chunker"] == "fixed"  # the old one stays, to compare
    assert "--system 'local:smollm2?kb=docs-advised'" in done.message
    [job_id] = done.job_ids
    scheduler.cancel(db, job_id)
    wait_until(db, job_id, (queue.CANCELLED, queue.SUCCEEDED))
    with pytest.raises(AlreadyExistsError, match="docs-advised"):  # asked twice: one advised index, not two
        carry_out(db, finding.action.kind, finding.action.params, LOCAL_ADMIN)


def test_a_found_mode_weakens_a_verdict_that_leans_on_its_approach_and_supports_the_alternative(db):
    [finding] = diagnose(db, [low_recall_run(db).id], modes=["retrieval_recall"]).findings
    assert bearing(finding, "rag") == WEAKENS and bearing(finding, "both") == WEAKENS
    assert bearing(finding, "fine_tune") == SUPPORTS
    assert bearing(finding, None) is None


def test_the_decision_report_ends_with_the_diagnosis_of_its_runs_weighed_against_the_verdict(db, capsys):
    session = create_session(db, "Support bot", actor=LOCAL_ADMIN)  # no answers yet: start with RAG
    reference_set(db, "code", ["yes"] * 4)
    stored_answers_run(db, "code", {RAG: [Answer(scores={"recall_at_5": r}) for r in (0.0, 0.0, 1.0, 0.0)]},
                       session_id=session.id)
    assert main(["report", str(session.id)]) == 0
    printed = capsys.readouterr().out
    assert "## Diagnosis" in printed and "## How it bears on the verdict" in printed
    assert "- Retrieval recall below 70% (knowledge base docs) weakens the verdict: file recall@5: 0.250" in printed


def test_training_again_at_a_lower_rank_makes_a_second_adapter_from_the_first_ones_settings(db, training):
    first = training("house", lora_r=8, lora_alpha=16)
    with db.session() as session:
        session.add(Adapter(name="house", path="/nowhere", base_model=first.base_model, dataset=first.dataset,
                            config=first.to_dict()))

    done = carry_out(db, "retrain_adapter", {"adapter": "house", "lora_r": 4}, LOCAL_ADMIN)

    [job_id] = done.job_ids
    job = queue.get_job(db, job_id)
    assert job.config["training"]["adapter_name"] == "house-advised" and job.config["training"]["lora_r"] == 4
    assert "lora_r 8 -> 4" in done.message
    assert job.config["training"]["dataset"] == first.dataset and job.config["training"]["lora_alpha"] == 16
    scheduler.cancel(db, job_id)
    wait_until(db, job_id, (queue.CANCELLED, queue.SUCCEEDED, queue.INTERRUPTED))


def test_a_rerun_asks_the_same_set_with_the_same_options_and_the_systems_named(db, monkeypatch):
    monkeypatch.setenv(scheduler.MAX_JOBS_ENV, "1")
    run = low_recall_run(db)
    done = carry_out(db, "rerun_with", {"run_id": run.id, "systems": ["local:smollm2"]}, LOCAL_ADMIN)
    [job_id] = done.job_ids
    rerun = [r for r, _ in list_runs(db) if r.job_id == job_id][0]
    assert (rerun.eval_set, rerun.systems, rerun.metrics) == ("code", ["local:smollm2"], run.metrics)
    scheduler.cancel(db, job_id)
    wait_until(db, job_id, (queue.CANCELLED, queue.SUCCEEDED, queue.INTERRUPTED))


def test_every_fix_a_detector_offers_is_one_the_lab_can_carry_out():
    offered = {kind for path in Path(modes.__file__).parent.glob("*.py")
               for kind in re.findall(r'Action\(\s*"(\w+)"', path.read_text())}
    assert offered and offered <= set(ACTIONS), offered - set(ACTIONS)
