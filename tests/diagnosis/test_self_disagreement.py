"""Self-disagreement: found where the RAG + fine-tuned system misses, significantly more often than the other
way round, references its context held and RAG alone gave; not found where the two err alike; "cannot
tell" without both systems in one run, or without a context that held the reference."""

from __future__ import annotations

from core.access import LOCAL_ADMIN
from core.diagnosis.diagnose import diagnose
from core.diagnosis.finding import Status
from core.store.tables import Adapter
from tests.diagnosis.fixtures import BASE, RAG, Answer, reference_set, stored_answers_run

COMBINED = "local:smollm2?adapter=support&kb=docs"


def paired_run(db, rag_contains: list[int], combined_contains: list[int], held: list[bool], rag: str = RAG):
    """Question n's reference is "fact n"; both systems' chunks hold it where `held` says so."""
    reference_set(db, "facts", [f"fact {n}" for n in range(len(held))])

    def answers(contains: list[int]) -> list[Answer]:
        return [Answer(scores={"contains_reference": float(c)},
                       contexts=[f"The answer is fact {n}." if h else "An unrelated chunk."])
                for n, (c, h) in enumerate(zip(contains, held))]
    return stored_answers_run(db, "facts", {rag: answers(rag_contains), COMBINED: answers(combined_contains)})


def self_disagreement(db, run_ids):
    return diagnose(db, run_ids, modes=["self_disagreement"]).findings


def register_adapter(db, rank: int) -> None:
    with db.session() as session:
        session.add(Adapter(name="support", created_by=LOCAL_ADMIN.email, path="models/adapters/support",
                            base_model="smollm2", dataset="tickets", config={"lora_r": rank}))


def test_fine_tuned_answers_that_contradict_the_context_rag_alone_follows_are_found_and_counted(db):
    register_adapter(db, 16)
    # q10's context lacks the reference: its disagreement is not about the context and does not count
    run = paired_run(db, [1] * 11, [0] * 8 + [1, 1, 0], [True] * 10 + [False])

    [finding] = self_disagreement(db, [run.id])

    assert finding.status is Status.FOUND and finding.subject == COMBINED
    rate, count, opposite, test = finding.figures
    assert (round(rate.value, 3), rate.n) == (0.8, 10) and rate.low < 0.8 < rate.high
    assert (count.value, opposite.value) == (8, 0)
    assert round(test.value, 4) == round(2 / 2 ** 8, 4)
    assert [q.item_id for q in finding.questions] == [f"q{n}" for n in range(8)]
    assert "self-disagreement count is 8" in finding.summary and "against 0 the other way" in finding.summary
    assert finding.action.kind == "retrain_adapter" and finding.action.params == {"adapter": "support", "lora_r": 8}


def test_disagreements_both_ways_are_not_found_but_still_counted(db):
    run = paired_run(db, [1, 1, 1, 0, 0, 0, 1, 0], [0, 0, 0, 1, 1, 1, 1, 0], [True] * 8)

    [finding] = self_disagreement(db, [run.id])

    assert finding.status is Status.NOT_FOUND and finding.action is None
    assert [figure.value for figure in finding.figures[1:3]] == [3, 3]
    assert [q.item_id for q in finding.questions] == ["q0", "q1", "q2"]


def test_a_few_disagreements_one_way_are_not_found_until_significant(db):
    run = paired_run(db, [1] * 6, [0, 0, 1, 1, 1, 1], [True] * 6)
    [finding] = self_disagreement(db, [run.id])
    assert finding.status is Status.NOT_FOUND and "self-disagreement count is 2" in finding.summary


def test_without_the_system_without_its_adapter_it_cannot_tell_and_says_which_run_would(db):
    run = paired_run(db, [1] * 3, [0] * 3, [True] * 3, rag=BASE)
    [finding] = self_disagreement(db, [run.id])
    assert finding.status is Status.CANNOT_TELL and "local?kb=KB" in finding.summary


def test_contexts_that_never_held_the_reference_cannot_tell(db):
    run = paired_run(db, [1] * 4, [0] * 4, [False] * 4)
    [finding] = self_disagreement(db, [run.id])
    assert finding.status is Status.CANNOT_TELL and finding.subject == COMBINED and finding.runs == (run.id,)
