"""Stale facts: found where an adapter states the old values of changed questions (or is significantly less
right on them than on unchanged ones), not found where it states the new values, and "cannot tell" where no
adapter was asked a changed question, with a warning where its dataset is older than a knowledge base."""

from __future__ import annotations

from datetime import timedelta

from core.access import LOCAL_ADMIN
from core.diagnosis.diagnose import diagnose
from core.diagnosis.finding import Status
from core.diagnosis.modes.stale_facts import CHANGED_TAG
from core.evaluation.demo import DEMO_DIR
from core.evaluation.runs import finish_run, save_answers
from core.evaluation.sets import eval_items, get_eval_set, import_eval_file
from core.store.tables import Adapter, EvalResult, EvalRun, FineTuneDataset, KnowledgeBase, utc_now
from tests.diagnosis.fixtures import BASE, RAG, Answer, reference_set, stored_answers_run

ADAPTED = "local:smollm2?adapter=docs-v1"
OLD = ["30 days", "Pocket", "12 MB", "every 4 hours"]
NEW = ["14 days", "Sprout", "20 MB", "every 60 minutes"]
UNCHANGED = ["Business", "LGR-309", "eu-central", "SSO"]
VERSION_TAGS = [["changes-in-v2"]] * len(OLD) + [["pricing"]] * len(UNCHANGED)


def docs_sets(db) -> None:
    """docs-v1, then docs-v2: the same questions, the first four with new answers (tagged as in the demo)."""
    reference_set(db, "docs-v1", OLD + UNCHANGED, VERSION_TAGS)
    reference_set(db, "docs-v2", NEW + UNCHANGED, VERSION_TAGS)


def register_adapter(db, dataset_made=None) -> None:
    with db.session() as session:
        session.add(FineTuneDataset(name="docs-v1-examples", source="import", source_format="messages", folder="d",
                                    created_at=dataset_made or utc_now()))
        session.add(Adapter(name="docs-v1", path="a", base_model="smollm2", dataset="docs-v1-examples"))


def said(texts):
    return [Answer(text=f"It is {text}.") for text in texts]


def test_an_adapter_stating_the_old_values_is_found_with_the_questions_and_the_rag_system_that_gets_them(db):
    docs_sets(db)
    register_adapter(db)
    adapter_said = OLD[:3] + NEW[3:] + UNCHANGED
    run = stored_answers_run(db, "docs-v2", {ADAPTED: said(adapter_said), RAG: said(NEW + UNCHANGED)})

    [finding] = diagnose(db, [run.id], modes=["stale_facts"]).findings

    assert finding.status is Status.FOUND and finding.subject == ADAPTED and finding.runs == (run.id,)
    figures = {figure.name: figure for figure in finding.figures}
    old = figures["states the old value on changed questions"]
    assert (old.value, old.n) == (0.75, 4) and 0 < old.low < old.value < old.high
    assert figures["states the new value on changed questions"].value == 0.25
    assert figures["states the reference on unchanged questions"].value == 1.0
    assert figures[f"{RAG} states the new value"].value == 1.0
    assert [q.item_id for q in finding.questions] == ["q0", "q1", "q2"]
    assert "old value (Pocket) where the reference has Sprout" in finding.questions[1].note
    assert "3 of 4" in finding.summary and "keep facts in RAG" in finding.summary
    assert finding.action.params["systems"] == ["local:smollm2?adapter=docs-v1&kb=docs", ADAPTED]


def test_an_answer_giving_both_values_states_the_new_one_not_the_old(db):
    docs_sets(db)
    run = stored_answers_run(db, "docs-v2", {ADAPTED: said([f"{new}, no longer {old}" for old, new in zip(OLD, NEW)]
                                                           + UNCHANGED)})
    [finding] = diagnose(db, [run.id], modes=["stale_facts"]).findings
    assert finding.status is Status.NOT_FOUND and not finding.questions
    assert {f.name: f.value for f in finding.figures}["states the old value on changed questions"] == 0.0


def test_an_adapter_far_less_right_on_questions_tagged_changed_is_found_without_the_old_values(db):
    changed, unchanged = [f"{n} widgets" for n in range(10)], [f"{n} gadgets" for n in range(10)]
    reference_set(db, "after", changed + unchanged, [[CHANGED_TAG]] * 10 + [[]] * 10)
    run = stored_answers_run(db, "after", {ADAPTED: said(["none"] * 10 + unchanged)})
    [finding] = diagnose(db, [run.id], modes=["stale_facts"]).findings
    assert finding.status is Status.FOUND and len(finding.questions) == 10
    assert "states the old value on changed questions" not in {f.name for f in finding.figures}
    assert all("does not state the new value" in q.note for q in finding.questions)


def test_an_adapter_stating_the_new_values_is_not_found(db):
    docs_sets(db)
    run = stored_answers_run(db, "docs-v2", {ADAPTED: said(NEW + UNCHANGED)})
    [finding] = diagnose(db, [run.id], modes=["stale_facts"]).findings
    assert finding.status is Status.NOT_FOUND and "4 of 4" in finding.summary and finding.action is None


def test_an_adapter_that_never_learnt_the_facts_cannot_show_stale_ones(db):
    docs_sets(db)
    run = stored_answers_run(db, "docs-v2", {ADAPTED: said(["nothing"] * 8)})  # as the demo's short training did
    [finding] = diagnose(db, [run.id], modes=["stale_facts"]).findings
    assert finding.status is Status.CANNOT_TELL and "did not learn the facts it was trained on" in finding.summary
    assert "0 of 4 unchanged" in finding.summary


def test_the_first_version_of_a_set_announces_changes_it_does_not_hold_so_it_cannot_tell(db):
    docs_sets(db)
    run = stored_answers_run(db, "docs-v1", {ADAPTED: said(OLD + UNCHANGED)})
    [finding] = diagnose(db, [run.id], modes=["stale_facts"]).findings
    assert finding.status is Status.CANNOT_TELL and finding.subject == ADAPTED and "ledgerly-v2" in finding.summary


def test_failed_answers_to_the_changed_questions_tell_nothing(db):
    docs_sets(db)
    failed = [Answer(error="out of memory")] * len(NEW)
    run = stored_answers_run(db, "docs-v2", {ADAPTED: failed + said(UNCHANGED)})
    [finding] = diagnose(db, [run.id], modes=["stale_facts"]).findings
    assert finding.status is Status.CANNOT_TELL


def test_without_an_adapter_it_cannot_tell_and_says_which_run_would(db):
    docs_sets(db)
    run = stored_answers_run(db, "docs-v2", {BASE: said(NEW + UNCHANGED), RAG: said(NEW + UNCHANGED)})
    [finding] = diagnose(db, [run.id], modes=["stale_facts"]).findings
    assert finding.status is Status.CANNOT_TELL and finding.subject == "" and CHANGED_TAG in finding.summary


def test_a_knowledge_base_indexed_after_the_adapters_dataset_is_a_warning(db):
    register_adapter(db, dataset_made=utc_now() - timedelta(days=10))
    with db.session() as session:
        session.add(KnowledgeBase(name="docs", status="ready", last_indexed_at=utc_now()))
    reference_set(db, "plain", ["yes", "no"])
    run = stored_answers_run(db, "plain", {ADAPTED: said(["yes", "no"]), RAG: said(["yes", "no"])})

    [finding] = diagnose(db, [run.id], modes=["stale_facts"]).findings

    assert finding.status is Status.CANNOT_TELL and "may be stale" in finding.summary
    [warning] = finding.figures
    assert warning.name == "knowledge base docs indexed after dataset docs-v1-examples was made"
    assert 9.9 < warning.value < 10.1 and warning.unit == "days"


def demo_run(db, answers_by_system: dict[str, dict[str, str]]):
    """A finished run of ledgerly-v2 in which each system answers each question `answers_by_system[system][id]`."""
    asked = get_eval_set(db, "ledgerly-v2")
    with db.session() as session:
        run = EvalRun(eval_set=asked.name, eval_set_id=asked.id, eval_set_sha256=asked.sha256,
                      systems=list(answers_by_system), metrics=[])
        session.add(run)
    for system, answers in answers_by_system.items():
        rows = [EvalResult(run_id=run.id, item_id=item_id, position=n, system=system, text=text)
                for n, (item_id, text) in enumerate(answers.items())]
        save_answers(db, rows, [{} for _ in rows])
    return finish_run(db, run.id, {system: {"spec": system} for system in answers_by_system})


def test_on_the_shipped_demo_an_adapter_answering_from_the_v1_docs_states_every_changed_fact_old(db):
    references = {}
    for version in ("v1", "v2"):
        asked = import_eval_file(db, DEMO_DIR / f"ledgerly-{version}.jsonl", actor=LOCAL_ADMIN)
        references[version] = {item.item_id: item.reference_answer for item in eval_items(db, asked.name)}
    run = demo_run(db, {ADAPTED: references["v1"], RAG: references["v2"]})

    [finding] = diagnose(db, [run.id], modes=["stale_facts"]).findings

    figures = {figure.name: figure for figure in finding.figures}
    assert finding.status is Status.FOUND
    assert (figures["states the old value on changed questions"].value, figures[f"{RAG} states the new value"].value,
            figures["states the reference on unchanged questions"].value) == (1.0, 1.0, 1.0)
    assert figures["states the old value on changed questions"].n == 16
    assert figures["states the reference on unchanged questions"].n == 14  # the behaviour questions are left out
