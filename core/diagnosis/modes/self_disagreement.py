"""Self-disagreement: the RAG + fine-tuned system contradicts its own retrieved context where the same
retrieval read by the base model (no adapter) agrees with it, because fine-tuning baked in priors that
override the context. Counted on the questions whose context held the reference, in runs that asked both.

Found when such disagreements outnumber the questions the adapter got right and RAG alone got wrong, and
McNemar's test on the pair says p < 0.05: two different models disagree now and then both ways by chance."""

from __future__ import annotations

from typing import Optional

from core.diagnosis.evidence import Evidence, RunEvidence, adapter_of, spec_of, without_adapter
from core.diagnosis.finding import Action, Figure, Finding, Mode, Question, Status
from core.diagnosis.grounding import correctness_metric, held_questions, is_right
from core.evaluation.stats import wilson_mean
from core.history.stats import ALPHA, mcnemar

MODE = Mode("self_disagreement", "Combined RAG + fine-tuned model disagrees with itself", "Both",
            "Fine-tuning introduced strong priors that override the retrieved context",
            "Instruct the model explicitly to prefer the context over prior knowledge; reduce the LoRA rank")
WOULD_TELL = ("run a RAG + fine-tuned system (local?adapter=NAME&kb=KB) beside the same system without its adapter "
              "(local?kb=KB) on one eval set with reference answers.")


def detect(evidence: Evidence) -> list[Finding]:
    """One finding per RAG + fine-tuned system, from the newest run that also asked it without its adapter."""
    newest: dict[str, tuple[RunEvidence, str, str]] = {}
    for run in evidence.runs:  # oldest first: a newer run replaces an older one
        asked = {spec_of(system).text: system for system in run.run.systems}
        for system in run.run.systems:
            rag_only = asked.get(without_adapter(system))
            if spec_of(system).kb and adapter_of(system) and rag_only:
                newest[spec_of(system).text] = (run, system, rag_only)
    if not newest:
        return [Finding.cannot_tell(MODE, WOULD_TELL)]
    return [_finding(evidence, *pair) for pair in newest.values()]


def _finding(evidence: Evidence, run: RunEvidence, combined: str, rag_only: str) -> Finding:
    metric = correctness_metric(run, [combined, rag_only])
    if metric is None:
        return Finding.cannot_tell(MODE, f"run {run.id} scored {combined} and {rag_only} on no metric that says an "
                                         "answer is right (judge_correctness, contains_reference, token_f1, "
                                         "faithfulness).", combined, (run.id,))
    held = held_questions(run, combined)  # both retrieve alike; the fine-tuned answer is judged by its own chunks
    combined_values, rag_values = run.metric_values(combined, metric), run.metric_values(rag_only, metric)
    questions = [item_id for item_id, was_held in held.items()
                 if was_held and item_id in combined_values and item_id in rag_values]
    if not questions:
        return Finding.cannot_tell(MODE, f"in run {run.id} no question both systems answered had the reference in "
                                         "its retrieved context, so neither could agree with it.", combined, (run.id,))
    combined_right = [is_right(combined_values[q]) for q in questions]
    rag_right = [is_right(rag_values[q]) for q in questions]
    disagreements = [q for q, ft, rag in zip(questions, combined_right, rag_right) if rag and not ft]
    opposite = sum(ft and not rag for ft, rag in zip(combined_right, rag_right))
    test = mcnemar(rag_right, combined_right)
    found = len(disagreements) > opposite and test.p_value < ALPHA
    figures = (Figure.of("self-disagreement rate", wilson_mean([float(q in disagreements) for q in questions])),
               Figure("self-disagreements", len(disagreements), n=len(questions), unit="questions"),
               Figure("RAG + FT right where RAG alone was wrong", opposite, n=len(questions), unit="questions"),
               Figure(f"{test.name} p", test.p_value, n=len(questions)))
    summary = (f"In run {run.id}, on the {len(questions)} questions whose context held the reference, the "
               f"self-disagreement count is {len(disagreements)}: {combined} missed the reference where {rag_only} "
               f"gave it, against {opposite} the other way round ({metric}, McNemar p = {test.p_value:.3f}).")
    return Finding(MODE, Status.FOUND if found else Status.NOT_FOUND, summary, combined, figures, (run.id,),
                   tuple(Question(run.id, q, combined, f"the context held the reference and {rag_only} said it; "
                                                       f"the fine-tuned answer did not ({metric} "
                                                       f"{combined_values[q]:.2f})") for q in disagreements),
                   _lower_rank(evidence, adapter_of(combined)) if found else None)


def _lower_rank(evidence: Evidence, adapter: str) -> Action:
    """Train the adapter again at half its rank: a weaker prior leaves room for the context."""
    registered = evidence.adapters.get(adapter)
    rank = registered.config.get("lora_r") if registered is not None else None
    lower: Optional[int] = max(1, int(rank) // 2) if rank else None
    return Action("retrain_adapter", f"Train {adapter} again" + (f" at rank {lower}" if lower else " at a lower rank"),
                  {"adapter": adapter, **({"lora_r": lower} if lower else {})})
