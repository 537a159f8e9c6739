"""A decision session's proposed experiment as an eval run: its variants become the systems, and the
run remembers the session."""

from __future__ import annotations

import json

import pytest

from core.access import LOCAL_ADMIN
from core.checklist.sessions import create_session, record_answer
from core.checklist.variants import VARIANTS
from core.cli import main
from core.errors import InvalidInputError
from core.evaluation.experiments import experiment_systems, proposed_experiment, proposed_experiments
from core.evaluation.runs import get_run
from core.evaluation.sets import import_eval_set
from core.jobs import queue
from core.llm.spec import parse_spec
from tests.training_fixtures import wait_until


@pytest.fixture
def rag_session(db):
    session = create_session(db, "Support bot", actor=LOCAL_ADMIN)
    record_answer(db, session.id, "Ana", "checklist.changes_monthly", "yes", LOCAL_ADMIN)
    return session


def test_the_sessions_experiment_becomes_system_specs(db, rag_session):
    experiment = proposed_experiment(db, rag_session.id)
    assert experiment.variants == ("base", "rag") and experiment.needs_knowledge_base and not experiment.needs_adapter
    assert [e.session_name for e in proposed_experiments(db)] == ["Support bot"]
    assert experiment_systems(experiment, "docs") == ["local:smollm2", "local:smollm2?kb=docs"]
    with pytest.raises(InvalidInputError, match="compares RAG: choose the knowledge base"):
        experiment_systems(experiment)


def test_every_variant_has_its_spec():
    from core.evaluation.experiments import ProposedExperiment

    both = ProposedExperiment(1, "s", "Both", ("base", "rag", "fine_tuned", "rag_fine_tuned"), "", "")
    assert experiment_systems(both, "docs", "house", "local?dtype=bfloat16") == [
        "local:smollm2?dtype=bfloat16", "local:smollm2?dtype=bfloat16&kb=docs",
        "local:smollm2?adapter=house&dtype=bfloat16", "local:smollm2?adapter=house&dtype=bfloat16&kb=docs"]
    with pytest.raises(InvalidInputError, match="Unknown option 'adapter'"):
        experiment_systems(both, "docs", "house", "anthropic:claude-sonnet-4-5")  # adapters are local only


@pytest.mark.parametrize("key", list(VARIANTS))
def test_each_variants_spec_has_what_the_table_says_it_uses(key):
    from core.evaluation.experiments import ProposedExperiment

    experiment = ProposedExperiment(1, "s", "One", (key,), "", "")
    assert (experiment.needs_knowledge_base, experiment.needs_adapter) == \
        (VARIANTS[key].uses_knowledge_base, VARIANTS[key].uses_adapter)
    [system] = experiment_systems(experiment, "docs", "house")
    spec = parse_spec(system)
    assert (spec.kb == "docs", spec.options.get("adapter") == "house") == \
        (VARIANTS[key].uses_knowledge_base, VARIANTS[key].uses_adapter)


def test_a_session_without_a_verdict_says_what_to_do(db):
    from core.store.tables import DecisionSession

    session = create_session(db, "Old", actor=LOCAL_ADMIN)
    with db.session() as s:  # a session stored before verdicts were kept
        s.get(DecisionSession, session.id).verdict = None
    assert proposed_experiments(db) == []
    with pytest.raises(InvalidInputError, match="has no verdict yet"):
        proposed_experiment(db, session.id)


@pytest.mark.slow  # the embedding model, loaded by a worker or the CLI
def test_the_command_line_runs_a_sessions_experiment_and_links_the_run(db, rag_session, tiny_model_dir, capsys):
    from core.rag.config import KnowledgeBaseConfig
    from core.rag.knowledge import create_knowledge_base

    create_knowledge_base(db, "docs", KnowledgeBaseConfig(source_path="eval_sets/demo/docs/v1"))
    import_eval_set(db, "one", json.dumps({"id": "q", "question": "What is the free plan called?"}), "test",
                    actor=LOCAL_ADMIN)
    tiny = f"local:{tiny_model_dir}?dtype=float32"
    assert main(["eval", "run", "--set", "one", "--from-session", str(rag_session.id), "--kb", "docs",
                 "--model", tiny, "--metric", "token_f1", "--max-new-tokens", "2"]) == 0
    run_id = int(capsys.readouterr().out.split()[0])
    run = get_run(db, run_id)
    assert run.decision_session_id == rag_session.id and len(run.systems) == 2 and run.systems[1].endswith("kb=docs")
    assert wait_until(db, run.job_id, [queue.SUCCEEDED]).status == queue.SUCCEEDED
