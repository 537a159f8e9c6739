"""Brittleness on paraphrased inputs: an adapter that answers its training questions as it was trained on them
but not when they are reworded learned the phrasing, not the facts.

Two runs tell: one of the adapter on a set of its training questions (items tagged "training-phrasing") and one
on their paraphrases (items tagged "paraphrase", with the same item ids). The sets are separate because an item
id is unique within a set; the ledgerly demo ships such a pair and `python -m core evalset paraphrase` writes
one for a team's own dataset. The gap (as trained minus reworded) is paired by item id, with a bootstrap
interval and a paired test, and found by the one rule every comparison uses (`verdict_of`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from core.diagnosis.evidence import Evidence, RunEvidence, adapter_of
from core.diagnosis.finding import Figure, Finding, Mode, Question, Status
from core.evaluation.catalog import CATALOG
from core.evaluation.paraphrase import PARAPHRASE_TAG
from core.evaluation.stats import bootstrap_mean, wilson_mean
from core.finetune.analysis import TRAINING_PHRASING_TAG
from core.history.compare import BETTER, verdict_of
from core.history.stats import PairedTest, mcnemar, paired_permutation

MODE = Mode("overfitting", "Fine-tuned model overfits to training phrasing: brittle on paraphrased inputs",
            "Fine-tuning", "Training set too small (fewer than 500 examples) or too homogeneous in phrasing",
            "Augment the training examples with paraphrases; use DPO pairs instead of raw SFT completions")
METRICS = ("contains_reference", "token_f1")  # the first one both runs scored is read
RISKY_BELOW = 500  # training examples: the seed's line for "too small"
WOULD_TELL = ("run the adapter on its training questions (a set tagged training-phrasing) and on their paraphrases "
              "(a set tagged paraphrase, with the same ids), scored on contains_reference or token_f1: the ledgerly "
              "demo's ledgerly-training and ledgerly-paraphrased, or the pair `python -m core evalset paraphrase "
              "DATASET --system SPEC` writes for your own dataset.")


@dataclass(frozen=True)
class PhrasingPair:
    """One adapter system's scores on the same questions as trained and reworded."""

    system: str
    trained: RunEvidence
    reworded: RunEvidence
    metric: str
    questions: list[str]  # item ids scored in both runs
    as_trained: list[float]
    as_reworded: list[float]


def detect(evidence: Evidence) -> list[Finding]:
    """One finding per system with an adapter, from its newest pair of runs."""
    systems = [system for system in evidence.systems() if adapter_of(system)]
    if not systems:
        return [Finding.cannot_tell(MODE, "no system in scope has an adapter; " + WOULD_TELL)]
    findings = []
    for system in systems:
        pair = newest_pair(evidence, system)
        findings.append(_finding(evidence, pair) if pair else
                        Finding.cannot_tell(MODE, f"{system} was not run on both phrasings; " + WOULD_TELL, system))
    return findings


def newest_pair(evidence: Evidence, system: str) -> Optional[PhrasingPair]:
    trained = _runs_tagged(evidence, system, TRAINING_PHRASING_TAG)
    reworded = _runs_tagged(evidence, system, PARAPHRASE_TAG)
    for paraphrase_run in reworded:
        for training_run in trained:
            if training_run is not paraphrase_run and (pair := _paired(system, training_run, paraphrase_run)):
                return pair
    return None


def _runs_tagged(evidence: Evidence, system: str, tag: str) -> list[RunEvidence]:
    """The runs, newest first, in which `system` answered questions tagged `tag`."""
    return [run for run in reversed(evidence.runs)
            if system in run.run.systems and any(tag in item.tags for item in run.items.values())]


def _paired(system: str, trained: RunEvidence, reworded: RunEvidence) -> Optional[PhrasingPair]:
    for metric in METRICS:
        a = _tagged_values(trained, system, metric, TRAINING_PHRASING_TAG)
        b = _tagged_values(reworded, system, metric, PARAPHRASE_TAG)
        questions = [item_id for item_id in a if item_id in b]
        if questions:
            return PhrasingPair(system, trained, reworded, metric, questions, [a[q] for q in questions],
                                [b[q] for q in questions])
    return None


def _tagged_values(run: RunEvidence, system: str, metric: str, tag: str) -> dict[str, float]:
    return {item_id: value for item_id, value in run.metric_values(system, metric).items()
            if item_id in run.items and tag in run.items[item_id].tags}


def _finding(evidence: Evidence, pair: PhrasingPair) -> Finding:
    gap = bootstrap_mean([a - b for a, b in zip(pair.as_trained, pair.as_reworded)])
    test = _paired_test(pair)
    # verdict_of reads its difference as B - A: here B is "as trained" and A "reworded", so BETTER is a drop
    found = verdict_of(gap, test.p_value) == BETTER
    runs = (pair.trained.id, pair.reworded.id)
    measured = (f"{pair.metric} {_mean(pair.as_trained):.2f} as trained, {_mean(pair.as_reworded):.2f} reworded, a "
                f"drop of {gap.mean:.2f} [{gap.low:.2f}, {gap.high:.2f}] on {gap.n} questions (runs {runs[0]} and "
                f"{runs[1]}, {test.name} p={test.p_value:.2g})")
    size_sentence, dataset = _dataset_size(evidence, pair.system)
    verdict = "is brittle on" if found else "shows no significant drop on"
    summary = f"{pair.system} {verdict} reworded questions: {measured}. {size_sentence}"
    figures = (_mean_figure(f"{pair.metric} as trained", pair.metric, pair.as_trained),
               _mean_figure(f"{pair.metric} reworded", pair.metric, pair.as_reworded),
               Figure.of(f"drop in {pair.metric} when reworded", gap)) + _size_figure(evidence, dataset)
    # No one-click fix: rewording a dataset asks a model for every example, and a person should read the result.
    return Finding(MODE, Status.FOUND if found else Status.NOT_FOUND, summary, pair.system, figures, runs,
                   _brittle_questions(pair))


def _paired_test(pair: PhrasingPair) -> PairedTest:
    if CATALOG[pair.metric].pass_fail:
        return mcnemar([v == 1.0 for v in pair.as_trained], [v == 1.0 for v in pair.as_reworded])
    return paired_permutation(pair.as_reworded, pair.as_trained)


def _mean_figure(name: str, metric: str, values: list[float]) -> Figure:
    return Figure.of(name, wilson_mean(values) if CATALOG[metric].pass_fail else bootstrap_mean(values))


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _dataset_size(evidence: Evidence, system: str) -> tuple[str, Optional[str]]:
    """The sentence on the adapter's training set size, and the dataset's name where it is known."""
    adapter = evidence.adapters.get(adapter_of(system))
    if adapter is None:
        return f"The adapter {adapter_of(system)} is not registered here, so its training set's size is unknown.", None
    dataset = evidence.datasets.get(adapter.dataset)
    if dataset is None:
        return f"Its dataset {adapter.dataset} has been removed, so its size is unknown.", adapter.dataset
    if dataset.train_count < RISKY_BELOW:
        return (f"Its dataset {dataset.name} has {dataset.train_count} training examples: fewer than {RISKY_BELOW}, "
                "which the seed calls too small; add more, and more varied, examples (paraphrases, DPO pairs).",
                dataset.name)
    return (f"Its dataset {dataset.name} has {dataset.train_count} training examples, at least the seed's "
            f"{RISKY_BELOW}; vary their phrasing.", dataset.name)


def _size_figure(evidence: Evidence, dataset: Optional[str]) -> tuple[Figure, ...]:
    row = evidence.datasets.get(dataset) if dataset else None
    return (Figure("training examples", row.train_count, unit="examples"),) if row else ()


def _brittle_questions(pair: PhrasingPair) -> tuple[Question, ...]:
    """The questions answered better as trained than reworded, with the reworded question."""
    return tuple(Question(pair.reworded.id, item_id, pair.system,
                          f"{pair.metric} {a:.2f} as trained, {b:.2f} as {pair.reworded.items[item_id].question!r}")
                 for item_id, a, b in zip(pair.questions, pair.as_trained, pair.as_reworded) if a > b)
