"""Forgetting: found when the adapter significantly lowers its base model's score on general questions, not found
when the interval rules out the seed's 5 points, "cannot tell" when too few questions or no pair; and the training
curve whose validation loss rises while its training loss falls, from JobMetric rows of the adapter's job."""

from __future__ import annotations

from typing import Optional, Sequence

import pytest

from core.diagnosis.diagnose import diagnose
from core.diagnosis.finding import Finding, Status
from core.store.tables import Adapter, Job, JobMetric
from tests.diagnosis.fixtures import BASE, Answer, reference_set, stored_answers_run

ADAPTED = "local:smollm2?adapter=house"
TRAINED_FAST = {"learning_rate": 1e-3, "lora_dropout": 0.05, "warmup_ratio": 0.05, "lr_schedule": "cosine"}


def general_run(db, base: Sequence[float], adapted: Sequence[float], metric: str = "contains_reference",
                tags: Optional[Sequence[Sequence[str]]] = None, name: str = "general-knowledge"):
    """A run of a set of len(base) questions (tagged general unless `tags` says) on BASE and ADAPTED."""
    reference_set(db, name, ["Paris"] * len(base), tags or [("general", "geography")] * len(base))
    return stored_answers_run(db, name, {BASE: [Answer(scores={metric: value}) for value in base],
                                         ADAPTED: [Answer(scores={metric: value}) for value in adapted]})


def trained_adapter(db, name: str = "house", curves: Optional[dict[str, Sequence[float]]] = None,
                    steps: Sequence[int] = (), config: Optional[dict] = None) -> Adapter:
    """An adapter registered from a training job that recorded `curves[metric][i]` at `steps[i]`."""
    with db.session() as session:
        job = Job(kind="train", status="succeeded")
        session.add(job)
        session.flush()
        adapter = Adapter(name=name, path=f"/adapters/{name}", base_model="smollm2", dataset="support",
                          job_id=job.id, config=TRAINED_FAST if config is None else config)
        session.add(adapter)
        session.add_all(JobMetric(job_id=job.id, step=step, name=metric, value=value)
                        for metric, values in (curves or {}).items() for step, value in zip(steps, values))
    return adapter


def forgetting(db, run_ids: Sequence[int]) -> list[Finding]:
    return list(diagnose(db, run_ids, modes=["forgetting"]).findings)


def about(findings: list[Finding], subject: str) -> Finding:
    [finding] = [finding for finding in findings if finding.subject == subject]
    return finding


def test_an_adapter_that_loses_general_questions_is_found_with_the_drop_in_points_and_the_seeds_fix(db):
    trained_adapter(db)
    base = [1.0] * 100 + [0.0] * 20
    adapted = [0.0 if n % 10 < 3 else value for n, value in enumerate(base)]  # 30 of the 100 it knew, lost
    run = general_run(db, base, adapted)

    finding = about(forgetting(db, [run.id]), ADAPTED)

    assert finding.status is Status.FOUND and finding.runs == (run.id,)
    drop, without, with_adapter, test = finding.figures
    assert (drop.name, drop.unit, drop.n) == ("drop in contains_reference", "points", 120)
    assert round(drop.value, 1) == 25.0 and 5.0 < drop.low < drop.value < drop.high  # past the seed's 5 points
    assert round(without.value, 3) == 0.833 and round(with_adapter.value, 3) == 0.583
    assert test.name.startswith("McNemar") and test.value < 1e-6
    assert "25.0 points" in finding.summary and "learning rate 0.001" in finding.summary
    assert len(finding.questions) == 30 and all(q.system == ADAPTED for q in finding.questions)
    assert finding.action.params == {"adapter": "house", "lr_schedule": "cosine", "learning_rate": 1e-4,
                                     "warmup_ratio": 0.1, "lora_dropout": 0.1}


def test_an_adapter_that_keeps_what_its_base_knew_is_not_found(db):
    base = [1.0] * 90 + [0.0] * 30
    adapted = list(base)
    adapted[0], adapted[1], adapted[100], adapted[101] = 0.0, 0.0, 1.0, 1.0  # two lost, two gained
    run = general_run(db, base, adapted)

    finding = about(forgetting(db, [run.id]), ADAPTED)

    assert finding.status is Status.NOT_FOUND and finding.action is None
    drop = finding.figures[0]
    assert drop.value == 0.0 and drop.high < 5.0 and "stays under the 5 points" in finding.summary
    assert [q.item_id for q in finding.questions] == ["q0", "q1"]


def test_a_drop_on_too_few_questions_cannot_be_told_and_states_its_interval(db):
    run = general_run(db, [1.0] * 10, [1.0] * 8 + [0.0] * 2)

    finding = about(forgetting(db, [run.id]), ADAPTED)

    drop = finding.figures[0]
    assert finding.status is Status.CANNOT_TELL and round(drop.value, 1) == 20.0 and drop.high > 5.0
    assert f"[{drop.low:.1f}, {drop.high:.1f}]" in finding.summary and "Run all of general-knowledge" in finding.summary


def test_only_questions_tagged_general_count_so_a_teams_own_mixed_set_works(db):
    tags = [("general", "arithmetic")] * 80 + [("billing",)] * 40
    base, adapted = [1.0] * 120, [1.0] * 80 + [0.0] * 40  # it lost every billing question, no general one
    run = general_run(db, base, adapted, tags=tags, name="support-and-general")

    finding = about(forgetting(db, [run.id]), ADAPTED)

    assert finding.status is Status.NOT_FOUND and finding.figures[0].n == 80


def test_without_contains_reference_the_drop_is_measured_on_token_f1_with_a_permutation_test(db):
    run = general_run(db, [0.9] * 70, [0.5] * 70, metric="token_f1")

    finding = about(forgetting(db, [run.id]), ADAPTED)

    assert finding.status is Status.FOUND and finding.figures[0].name == "drop in token_f1"
    assert round(finding.figures[0].value, 1) == 40.0 and finding.figures[3].name.startswith("paired permutation")


def test_an_adapter_never_asked_beside_its_base_on_general_questions_cannot_be_told(db):
    reference_set(db, "general-knowledge", ["Paris"] * 3, [("general", "geography")] * 3)
    run = stored_answers_run(db, "general-knowledge", {ADAPTED: [Answer(scores={"contains_reference": 1.0})] * 3})

    [finding] = forgetting(db, [run.id])

    assert finding.status is Status.CANNOT_TELL and finding.subject == ADAPTED
    assert "general-knowledge set on local:smollm2 and local:smollm2?adapter=house" in finding.summary


def test_with_no_adapter_in_scope_it_cannot_tell_and_says_which_run_would(db):
    run = general_run(db, [1.0] * 3, [1.0] * 3)
    reference_set(db, "plain", ["yes"])
    plain = stored_answers_run(db, "plain", {BASE: [Answer(scores={"contains_reference": 1.0})]})

    [finding] = forgetting(db, [plain.id])

    assert finding.status is Status.CANNOT_TELL and "no system in scope has an adapter" in finding.summary
    assert about(forgetting(db, [run.id]), ADAPTED).status is Status.CANNOT_TELL  # 3 questions clear nothing


STEPS = (10, 20, 30, 40, 50, 60)
FALLING_TRAIN = (2.0, 1.5, 1.2, 1.0, 0.8, 0.6)
CURVE = "training curve of adapter house"


@pytest.mark.parametrize("validation_name", ["validation_loss", "eval_loss"])
def test_validation_loss_rising_while_training_loss_falls_is_found_with_the_best_step(db, validation_name):
    trained_adapter(db, curves={"train_loss": FALLING_TRAIN, validation_name: (1.9, 1.6, 1.5, 1.55, 1.7, 1.9)},
                    steps=STEPS)
    run = general_run(db, [1.0] * 3, [1.0] * 3)

    finding = about(forgetting(db, [run.id]), CURVE)

    assert finding.status is Status.FOUND
    assert [(figure.name, figure.value) for figure in finding.figures] == [
        ("lowest validation loss", 1.5), ("steps to the lowest validation loss", 30), ("last validation loss", 1.9),
        ("steps trained", 60), ("last training loss", 0.6)]
    assert "past step 30" in finding.summary and "learning rate 0.001" in finding.summary
    assert finding.action.params["max_steps"] == 30 and finding.action.params["learning_rate"] == 1e-4


@pytest.mark.parametrize("validation, train", [
    ((1.9, 1.6, 1.5, 1.4, 1.35, 1.3), FALLING_TRAIN),  # still learning
    ((1.9, 1.6, 1.5, 1.55, 1.7, 1.9), (2.0, 1.5, 1.2, 1.3, 1.4, 1.5)),  # both rising: not the training set learnt
    ((1.9, 1.6, 1.5, 1.7, 1.6, 1.9), FALLING_TRAIN),  # noise, not a steady rise
])
def test_a_curve_that_did_not_turn_is_not_found(db, validation, train):
    trained_adapter(db, curves={"train_loss": train, "validation_loss": validation}, steps=STEPS)
    run = general_run(db, [1.0] * 3, [1.0] * 3)

    finding = about(forgetting(db, [run.id]), CURVE)

    assert finding.status is Status.NOT_FOUND and finding.action is None
    assert finding.figures[0].value == min(validation)


def test_a_curve_with_too_few_evaluations_cannot_be_told(db):
    trained_adapter(db, curves={"train_loss": FALLING_TRAIN, "validation_loss": (1.9, 1.6)}, steps=STEPS)
    run = general_run(db, [1.0] * 3, [1.0] * 3)

    finding = about(forgetting(db, [run.id]), CURVE)

    assert finding.status is Status.CANNOT_TELL and "recorded 2 validation loss(es)" in finding.summary
