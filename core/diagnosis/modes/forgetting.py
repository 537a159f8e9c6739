"""Forgetting: a LoRA adapter that makes its base model worse at what it knew (the seed's "MMLU drops 15%").
Two signs of it: on general-knowledge questions (tagged "general") the model asked with the adapter scores below
the same model asked without it, paired question by question; and the adapter's validation loss rises over its
last evaluations while its training loss still falls."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from core.diagnosis.evidence import Evidence, RunEvidence, adapter_of, without_adapter
from core.diagnosis.finding import Action, Figure, Finding, Mode, Question, Status
from core.evaluation.catalog import CATALOG
from core.evaluation.demo import GENERAL_FILE
from core.evaluation.stats import Estimate, bootstrap_mean, wilson_mean
from core.history.compare import WORSE, verdict_of
from core.history.stats import PairedTest, holm, mcnemar, paired_permutation
from core.store.tables import Adapter

MODE = Mode("forgetting", "General reasoning degrades after fine-tuning", "Fine-tuning",
            "Learning rate too high, causing catastrophic forgetting in shared representations",
            "Reduce the learning rate to 1e-4 or lower, use a cosine schedule with warmup, and raise LoRA dropout")
GENERAL_TAG = "general"
METRICS = ("contains_reference", "exact_match", "token_f1")  # the first one both systems were scored on
FORGETTING_POINTS = 5.0  # the seed: losing more than 5-10 points of general knowledge is forgetting
# With no answer changed, the rule of three still allows 3/n of the answers to flip: at most 5 points from 60 on.
CLEARING_QUESTIONS = 60
RISING_EVALUATIONS = 3  # the last validation losses, each above the one before, that show the curve turned
VALIDATION_METRICS = ("validation_loss", "eval_loss")
ADVISED = {"learning_rate": 1e-4, "warmup_ratio": 0.1, "lora_dropout": 0.1}  # ceilings, floors, floors
GENERAL_SET = GENERAL_FILE.stem  # the shipped set's name, as the demo imports it


@dataclass(frozen=True)
class Pair:
    """One run's answers of a system with an adapter and of the same system without it, on general questions."""

    run: RunEvidence
    system: str
    base: str
    metric: str
    questions: list[str]
    base_scores: list[float]
    adapter_scores: list[float]

    @property
    def adapter(self) -> str:
        return adapter_of(self.system)

    def test(self) -> PairedTest:
        if CATALOG[self.metric].pass_fail:
            return mcnemar([v == 1.0 for v in self.base_scores], [v == 1.0 for v in self.adapter_scores])
        return paired_permutation(self.base_scores, self.adapter_scores)


def detect(evidence: Evidence) -> list[Finding]:
    """One finding per system with an adapter paired with its base on general questions (the newest run), one
    per adapter with no such pair, and one per training curve the lab recorded."""
    pairs = _newest_pairs(evidence)
    tests = [pair.test() for pair in pairs]
    adjusted = holm([test.p_value for test in tests])
    findings = [_drop_finding(pair, test.name, p_value, evidence.adapters.get(pair.adapter))
                for pair, test, p_value in zip(pairs, tests, adjusted)]
    findings += _unpaired(evidence, {pair.adapter for pair in pairs})
    findings += [_curve_finding(name, curve, evidence.adapters.get(name)) for name, curve in evidence.curves.items()]
    return findings


def _newest_pairs(evidence: Evidence) -> list[Pair]:
    newest: dict[str, Pair] = {}
    for run in evidence.runs:  # oldest first: a newer run replaces an older one
        general = {item_id for item_id, item in run.items.items() if GENERAL_TAG in (item.tags or [])}
        if not general:
            continue
        for system in run.run.systems:
            base = without_adapter(system)
            if adapter_of(system) and base in run.run.systems and (pair := _pair(run, system, base, general)):
                newest[system] = pair
    return list(newest.values())


def _pair(run: RunEvidence, system: str, base: str, general: set[str]) -> Optional[Pair]:
    for metric in METRICS:
        questions, base_scores, adapter_scores = run.paired(metric, base, system)
        kept = [index for index, item_id in enumerate(questions) if item_id in general]
        if kept:
            return Pair(run, system, base, metric, [questions[i] for i in kept], [base_scores[i] for i in kept],
                        [adapter_scores[i] for i in kept])
    return None


def _drop_finding(pair: Pair, test: str, p_value: float, adapter: Optional[Adapter]) -> Finding:
    points = bootstrap_mean([100 * (b - a) for b, a in zip(pair.base_scores, pair.adapter_scores)])
    drop = Figure.of(f"drop in {pair.metric}", points, "points")
    figures = (drop, Figure.of(f"{pair.metric} without the adapter", _mean(pair.metric, pair.base_scores)),
               Figure.of(f"{pair.metric} with the adapter", _mean(pair.metric, pair.adapter_scores)),
               Figure(f"{test} p (Holm-adjusted over the pairs)", p_value))
    measured = (f"the drop in {pair.metric} with adapter {pair.adapter} is {drop.value:.1f} points (95% interval "
                f"[{drop.low:.1f}, {drop.high:.1f}], {test} p = {p_value:.2g}) on {drop.n} general questions "
                f"of run {pair.run.id}")
    worse = tuple(Question(pair.run.id, item_id, pair.system, f"{pair.metric} {b:g} without the adapter, {a:g} with it")
                  for item_id, b, a in zip(pair.questions, pair.base_scores, pair.adapter_scores) if a < b)
    status, summary = _verdict(pair, points, p_value, measured, adapter)
    action = _retrain(pair.adapter, adapter) if status is Status.FOUND else None
    return Finding(MODE, status, summary, pair.system, figures, (pair.run.id,), worse, action)


def _verdict(pair: Pair, drop: Estimate, p_value: float, measured: str,
             adapter: Optional[Adapter]) -> tuple[Status, str]:
    if verdict_of(drop, p_value, higher_is_better=False) == WORSE:  # a drop: the higher, the worse
        return Status.FOUND, (f"Forgetting: {measured}; the seed counts more than {FORGETTING_POINTS:g}-10 points "
                              f"as forgetting. {_training_note(adapter)}")
    if drop.n >= CLEARING_QUESTIONS and drop.high < FORGETTING_POINTS:
        return Status.NOT_FOUND, (f"No forgetting: {measured}, so the interval stays under the "
                                  f"{FORGETTING_POINTS:g} points the seed counts as forgetting.")
    return Status.CANNOT_TELL, (f"Cannot tell: {measured}, which allows a drop of {FORGETTING_POINTS:g} points or "
                                f"more. Run all of {GENERAL_SET} (or more general questions) on {pair.base} and "
                                f"{pair.system}.")


def _mean(metric: str, values: list[float]) -> Estimate:
    return wilson_mean(values) if CATALOG[metric].pass_fail else bootstrap_mean(values)


def _training_note(adapter: Optional[Adapter]) -> str:
    config = adapter.config if adapter else {}
    if "learning_rate" not in config:
        return "The seed's fix: a learning rate of 1e-4 or lower, cosine warmup, more LoRA dropout."
    return (f"It was trained at learning rate {config['learning_rate']:g} with LoRA dropout "
            f"{config.get('lora_dropout', 0):g}; the seed advises 1e-4 or lower, cosine warmup and more dropout.")


def _retrain(name: str, adapter: Optional[Adapter], **more) -> Action:
    """Train the adapter again on its dataset with the seed's fix: no faster than 1e-4, warmup, more dropout."""
    config = adapter.config if adapter else {}
    params = {"adapter": name, "lr_schedule": "cosine",
              "learning_rate": min(config.get("learning_rate", ADVISED["learning_rate"]), ADVISED["learning_rate"]),
              "warmup_ratio": max(config.get("warmup_ratio", 0.0), ADVISED["warmup_ratio"]),
              "lora_dropout": max(config.get("lora_dropout", 0.0), ADVISED["lora_dropout"]), **more}
    steps = f" for {more['max_steps']} steps" if "max_steps" in more else ""
    return Action("retrain_adapter", f"Train {name} again{steps} at learning rate {params['learning_rate']:g} with "
                                     f"cosine warmup and LoRA dropout {params['lora_dropout']:g}", params)


def _unpaired(evidence: Evidence, paired: set[str]) -> list[Finding]:
    """Cannot tell for each adapter in scope that no run asked beside its base on general questions."""
    systems: dict[str, str] = {}  # adapter -> the first system in scope that uses it
    for system in evidence.systems():
        if name := adapter_of(system):
            systems.setdefault(name, system)
    if not systems:
        return [Finding.cannot_tell(MODE, f"no system in scope has an adapter: run the {GENERAL_SET} set on a base "
                                          "model and on it with its adapter, e.g. local and local?adapter=NAME.")]
    return [Finding.cannot_tell(MODE, f"no run paired adapter {name} with its base on general questions: run the "
                                      f"{GENERAL_SET} set on {without_adapter(system)} and {system}.", system)
            for name, system in systems.items() if name not in paired]


def _curve_finding(name: str, curve: dict[str, list[tuple[int, float]]], adapter: Optional[Adapter]) -> Finding:
    validation = next((curve[metric] for metric in VALIDATION_METRICS if curve.get(metric)), [])
    subject = f"training curve of adapter {name}"
    if len(validation) < RISING_EVALUATIONS:
        return Finding.cannot_tell(MODE, f"adapter {name}'s training recorded {len(validation)} validation loss(es): "
                                         f"train it with a validation split and at least {RISING_EVALUATIONS} "
                                         "evaluations (a smaller eval_every).", subject)
    window = validation[-RISING_EVALUATIONS:]
    train = _train_losses_over(curve.get("train_loss", []), window[0][0])
    if len(train) < 2:
        return Finding.cannot_tell(MODE, f"adapter {name}'s training loss was not logged over its last "
                                         f"{RISING_EVALUATIONS} evaluations.", subject)
    (best_step, best), (last_step, last) = min(validation, key=lambda point: point[1]), validation[-1]
    figures = (Figure("lowest validation loss", best),
               Figure("steps to the lowest validation loss", best_step, unit="steps"),
               Figure("last validation loss", last), Figure("steps trained", last_step, unit="steps"),
               Figure("last training loss", train[-1][1]))
    rising = all(later[1] > earlier[1] for earlier, later in zip(window, window[1:]))
    falling = np.polyfit([step for step, _ in train], [value for _, value in train], 1)[0] < 0
    losses = (f"lowest validation loss {best:.3f} at step {best_step}, last {last:.3f} at step {last_step}; training "
              f"loss {train[0][1]:.3f} to {train[-1][1]:.3f} from step {train[0][0]}")
    if not (rising and falling):
        return Finding(MODE, Status.NOT_FOUND, f"Adapter {name}'s validation loss did not rise over its last "
                       f"{RISING_EVALUATIONS} evaluations while its training loss fell ({losses}).", subject, figures)
    return Finding(MODE, Status.FOUND,
                   f"Adapter {name}'s validation loss rose over its last {RISING_EVALUATIONS} evaluations while its "
                   f"training loss fell ({losses}): past step {best_step} it fits its training set and generalises "
                   f"worse. {_training_note(adapter)}", subject, figures,
                   action=_retrain(name, adapter, max_steps=best_step))


def _train_losses_over(train: list[tuple[int, float]], first_step: int) -> list[tuple[int, float]]:
    """The training losses from the last one logged at or before `first_step` on."""
    start = max((step for step, _ in train if step <= first_step), default=first_step)
    return [(step, value) for step, value in train if step >= start]
