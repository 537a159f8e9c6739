"""Overfitting to training phrasing: found on an adapter that answers its training questions and fails them
reworded, not on one that answers both alike, and "cannot tell" without the two runs; the summary always says
how many training examples the adapter's dataset has."""

from __future__ import annotations

from core.diagnosis.diagnose import diagnose
from core.diagnosis.finding import Status
from core.store.tables import Adapter, FineTuneDataset
from tests.diagnosis.fixtures import BASE, Answer, reference_set, stored_answers_run

ADAPTED = "local:smollm2?adapter=ledgerly"


def trained_adapter(db, train_count: int) -> None:
    """The adapter `ledgerly`, registered as trained on the dataset `ledgerly-docs` of `train_count` examples."""
    with db.session() as session:
        session.add(FineTuneDataset(name="ledgerly-docs", source="import", source_format="messages", folder="unused",
                                    train_count=train_count))
        session.add(Adapter(name="ledgerly", path="unused", base_model="smollm2", dataset="ledgerly-docs"))


def phrasing_runs(db, as_trained: list[float], reworded: list[float], metric: str = "contains_reference",
                  others: tuple[str, ...] = ()):
    """A run of ADAPTED (and `others`, scoring 1) on the training questions and one on their paraphrases."""
    count = len(as_trained)
    reference_set(db, "trained", ["yes"] * count, [["training-phrasing"]] * count)
    reference_set(db, "reworded", ["yes"] * count, [["paraphrase"]] * count)
    return tuple(stored_answers_run(db, name, {ADAPTED: [Answer(scores={metric: v}) for v in values],
                                               **{system: [Answer(scores={metric: 1.0})] * count for system in others}})
                 for name, values in (("trained", as_trained), ("reworded", reworded)))


def overfitting(db, runs) -> list:
    return diagnose(db, [run.id for run in runs], modes=["overfitting"]).findings


def test_an_adapter_right_as_trained_and_wrong_reworded_is_found_with_its_dataset_size(db):
    trained_adapter(db, 72)
    runs = phrasing_runs(db, [1.0] * 20, [1.0] * 6 + [0.0] * 14, others=(BASE,))

    [finding] = overfitting(db, runs)

    assert finding.status is Status.FOUND and finding.subject == ADAPTED
    assert finding.runs == (runs[0].id, runs[1].id)
    as_trained, reworded, drop, size = finding.figures
    assert (as_trained.value, round(reworded.value, 2), round(drop.value, 2), drop.n) == (1.0, 0.3, 0.7, 20)
    assert 0 < drop.low <= drop.value <= drop.high
    assert (size.name, size.value) == ("training examples", 72)
    assert [q.item_id for q in finding.questions] == [f"q{n}" for n in range(6, 20)]
    assert all(q.run_id == runs[1].id for q in finding.questions)
    assert "McNemar" in finding.summary and "72 training examples: fewer than 500" in finding.summary
    assert finding.action is None  # rewording the dataset is the user's to review


def test_an_adapter_that_answers_both_phrasings_alike_is_not_found(db):
    trained_adapter(db, 800)
    runs = phrasing_runs(db, [1.0] * 8 + [0.0] * 4, [1.0] * 7 + [0.0] * 4 + [1.0])

    [finding] = overfitting(db, runs)

    assert finding.status is Status.NOT_FOUND and finding.action is None
    assert "no significant drop" in finding.summary
    assert "800 training examples, at least the seed's 500" in finding.summary and "fewer" not in finding.summary


def test_graded_scores_are_compared_on_token_f1_with_a_permutation_test(db):
    trained_adapter(db, 72)
    runs = phrasing_runs(db, [0.9, 0.8, 1.0, 0.9, 0.7, 0.9, 1.0, 0.8], [0.2, 0.3, 0.1, 0.4, 0.2, 0.3, 0.2, 0.1],
                         metric="token_f1")
    [finding] = overfitting(db, runs)
    assert finding.status is Status.FOUND and finding.figures[2].name == "drop in token_f1 when reworded"
    assert "paired permutation" in finding.summary


def test_an_adapter_run_on_one_phrasing_only_cannot_tell_and_says_which_sets_would(db):
    trained_adapter(db, 72)
    reference_set(db, "trained", ["yes"] * 3, [["training-phrasing"]] * 3)
    run = stored_answers_run(db, "trained", {ADAPTED: [Answer(scores={"contains_reference": 1.0})] * 3})
    [finding] = overfitting(db, [run])
    assert finding.status is Status.CANNOT_TELL and finding.subject == ADAPTED
    assert "ledgerly-paraphrased" in finding.summary and "evalset paraphrase" in finding.summary


def test_without_an_adapter_in_scope_it_cannot_tell(db):
    reference_set(db, "plain", ["yes", "no"])
    run = stored_answers_run(db, "plain", {BASE: [Answer(scores={"contains_reference": 1.0})] * 2})
    [finding] = overfitting(db, [run])
    assert finding.status is Status.CANNOT_TELL and finding.subject == "" and "no system" in finding.summary


def test_an_adapter_the_store_does_not_know_still_gets_its_gap_and_says_its_size_is_unknown(db):
    runs = phrasing_runs(db, [1.0] * 12, [0.0] * 12)
    [finding] = overfitting(db, runs)
    assert finding.status is Status.FOUND and finding.action is None
    assert "ledgerly is not registered" in finding.summary and len(finding.figures) == 3


def test_the_newest_pair_of_runs_speaks_for_the_adapter(db):
    trained_adapter(db, 72)
    old = phrasing_runs(db, [1.0] * 12, [0.0] * 12)
    new = stored_answers_run(db, "reworded", {ADAPTED: [Answer(scores={"contains_reference": 1.0})] * 12})
    [finding] = overfitting(db, (*old, new))
    assert finding.status is Status.NOT_FOUND and finding.runs == (old[0].id, new.id)
