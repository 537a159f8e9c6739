"""Context ignored: the retrieved chunks held the reference, yet the answer was wrong, so the model answered
from what it already believed. Where the run also asked the model without the knowledge base, the RAG
system is compared with it on those questions: scoring no better means the context bought nothing.

Found when at least half of those answers are wrong and RAG did not beat the model alone by
core.history.compare's rule (or the model alone was not asked): a RAG system that beats its own model
significantly does read its context, however often it is still wrong.

A verdict from a model as small as the embedded SmolLM2 says little about the model the team will deploy,
so for a small model the finding names the larger system to run the same experiment with."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from core.diagnosis.evidence import Evidence, RunEvidence, spec_of, without_knowledge_base
from core.diagnosis.finding import Action, Figure, Finding, Mode, Question, Status
from core.diagnosis.grounding import RIGHT_FROM, correctness_metric, held_questions, is_right
from core.evaluation.catalog import CATALOG
from core.evaluation.stats import Estimate, bootstrap_mean, wilson_mean
from core.history.compare import BETTER, verdict_of
from core.history.stats import PairedTest, mcnemar, paired_permutation
from core.llm.defaults import SMOLLM2_NAME
from core.llm.registry import BACKENDS
from core.llm.spec import SystemSpec

MODE = Mode("context_ignored", "Retrieved context ignored", "RAG",
            "Context is appended after a long system prompt; the model's attention dilutes towards the end",
            "Move the context closer to the question; shorten the system prompt")
WRONG_SHARE = 0.5  # found when at least this share of the answers whose context held the reference are wrong
SMALL_BELOW = 3e9  # parameters: a model under this size is small (SmolLM2's 135M to 1.7B, Qwen2.5's 0.5B and 1.5B)
# a size in a model's name: "135m", "0.5b", "llama3.2:1b", not the "4.1" of gpt-4.1-mini
_SIZE = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)([mb])(?![a-z0-9])")
WOULD_TELL = ("run a RAG system (kb=NAME) on an eval set with reference answers, scored on judge_correctness, "
              "contains_reference, token_f1 or faithfulness, beside the same model without kb to compare with.")


@dataclass(frozen=True)
class AgainstModelAlone:
    """The RAG system against the same model without its knowledge base, on the questions whose context held
    the reference."""

    system: str  # the model alone
    mean_rag: float
    mean_alone: float
    difference: Estimate  # RAG - alone, with its paired bootstrap interval
    test: PairedTest
    verdict: str  # core.history.compare's, with the RAG system as B


def detect(evidence: Evidence) -> list[Finding]:
    """One finding per RAG system, from the newest run that scored its answers."""
    newest: dict[str, tuple[RunEvidence, str]] = {}
    for run in evidence.runs:  # oldest first: a newer run replaces an older one
        for system in run.run.systems:
            if spec_of(system).kb and correctness_metric(run, [system]):
                newest[spec_of(system).text] = (run, system)
    if not newest:
        return [Finding.cannot_tell(MODE, WOULD_TELL)]
    return [_finding(run, system) for run, system in newest.values()]


def _finding(run: RunEvidence, system: str) -> Finding:
    metric = correctness_metric(run, [system])
    judged = held_questions(run, system)
    values = run.metric_values(system, metric)
    held = [item_id for item_id, was_held in judged.items() if was_held and item_id in values]
    if not held:
        why = (f"none of the {len(judged)} retrieved contexts of {system} in run {run.id} held the reference"
               if judged else f"nothing run {run.id} recorded of {system}'s answers (a short reference in a chunk's "
                              "text, recall_at_5, evidence_recall_at_5, context_recall) says whether the context "
                              "held the reference")
        return Finding.cannot_tell(MODE, f"{why}, so whether the model uses its context does not show.",
                                   system, (run.id,))
    wrong = [item_id for item_id in held if not is_right(values[item_id])]
    alone = _against_model_alone(run, system, metric, held)
    figures = [Figure.of("context held the reference", wilson_mean([float(h) for h in judged.values()])),
               Figure.of(f"right with the reference in context ({metric} >= {RIGHT_FROM})",
                         wilson_mean([float(is_right(values[item_id])) for item_id in held]))]
    if alone is not None:
        figures += [Figure.of(f"{metric}: RAG - model alone", alone.difference),
                    Figure(f"{alone.test.name} p", alone.test.p_value, n=alone.difference.n)]
    found = len(wrong) / len(held) >= WRONG_SHARE and (alone is None or alone.verdict != BETTER)
    questions = tuple(Question(run.id, item_id, system, f"the context held the reference; the answer did not "
                                                        f"({metric} {values[item_id]:.2f})") for item_id in wrong)
    size = small_model_size(system)
    larger = _larger_system(system) if size else None
    caveat = "" if larger is None else (
        f" A verdict from a model this small ({size}) does not carry over to the model you will deploy: "
        f"rerun eval set {run.run.eval_set} with {larger.text} beside {larger.model_only.text}.")
    action = None if larger is None else Action(
        "rerun_with", f"Rerun {run.run.eval_set} with {larger.model}",
        {"run_id": run.id, "systems": [larger.model_only.text, larger.text]})
    summary = _summary(run, system, metric, len(judged), len(held), len(wrong), alone) + caveat
    return Finding(MODE, Status.FOUND if found else Status.NOT_FOUND, summary, system, tuple(figures), (run.id,),
                   questions, action)


def _summary(run: RunEvidence, system: str, metric: str, judged: int, held: int, wrong: int,
             alone: Optional[AgainstModelAlone]) -> str:
    told = (f"In run {run.id} the retrieved context held the reference for {held} of {judged} questions, and "
            f"{system} got {wrong} of those wrong ({metric} below {RIGHT_FROM})")
    if alone is None:
        return told + "."
    relation = "better than" if alone.verdict == BETTER else "no better than"
    return (f"{told}, scoring {relation} {alone.system} alone on them ({metric} {alone.mean_rag:.3f} against "
            f"{alone.mean_alone:.3f}, {alone.test.name} p = {alone.test.p_value:.3f}).")


def _against_model_alone(run: RunEvidence, system: str, metric: str,
                         held: list[str]) -> Optional[AgainstModelAlone]:
    """A paired test on the held questions: McNemar for a pass/fail metric, a permutation test for a graded one."""
    alone = next((asked for asked in run.run.systems if spec_of(asked).text == without_knowledge_base(system)), None)
    alone_values = run.metric_values(alone, metric) if alone else {}
    rag_values = run.metric_values(system, metric)
    questions = [item_id for item_id in held if item_id in alone_values]
    if not questions:
        return None
    a, b = [alone_values[q] for q in questions], [rag_values[q] for q in questions]
    info = CATALOG.get(metric)
    test = (mcnemar([v == 1.0 for v in a], [v == 1.0 for v in b]) if info and info.pass_fail
            else paired_permutation(a, b))
    difference = bootstrap_mean([y - x for x, y in zip(a, b)])
    return AgainstModelAlone(alone, sum(b) / len(b), sum(a) / len(a), difference, test,
                             verdict_of(difference, test.p_value, info is None or info.higher_is_better))


def small_model_size(system: str) -> Optional[str]:
    """How big the system's model is when its spec says it is small: the local backend's default model, or a
    size under SMALL_BELOW in the model's name; None otherwise (an API model, an unnamed size)."""
    spec = spec_of(system)
    info = BACKENDS[spec.backend]
    if info.runs_locally and spec.model == info.default_model:
        return SMOLLM2_NAME
    for number, unit in _SIZE.findall(spec.model.lower()):
        if float(number) * (1e6 if unit == "m" else 1e9) < SMALL_BELOW:
            return f"{number}{unit.upper()} parameters"
    return None


def _larger_system(system: str) -> SystemSpec:
    """The same retrieval read by the first API model of the backend registry."""
    spec = spec_of(system)
    api = next(info for info in BACKENDS.values() if not info.runs_locally and info.default_model)
    return SystemSpec(api.name, api.default_model, {}, spec.kb, dict(spec.retrieval))
