"""Retrieval recall below 70%: the knowledge base does not put the answering files (or the answering lines)
in the top 5, so the model answers without them."""

from __future__ import annotations

from dataclasses import replace

from core.diagnosis.evidence import Evidence, RunEvidence, spec_of
from core.diagnosis.finding import Action, Figure, Finding, Mode, Question, Status
from core.evaluation.stats import bootstrap_mean

MODE = Mode("retrieval_recall", "Retrieval recall below 70%", "RAG",
            "Chunks too large (embeddings diluted), or retrieval returning semantically distant passages",
            "Use recursive or code-aware chunking at 256-512 tokens, widen hits with neighbouring chunks, "
            "add a re-ranker")
THRESHOLD = 0.70
ADVISED_SUFFIX = "-advised"  # the knowledge base the advised re-index builds beside the original
RECALL_METRICS = {"recall_at_5": "file recall@5", "evidence_recall_at_5": "evidence recall@5"}
WOULD_TELL = ("run a RAG system on an eval set whose questions list their relevant_sources or evidence lines "
              "(the urllib3 and jinja2 demo sets do), with recall_at_5 or evidence_recall_at_5 among the metrics.")


def detect(evidence: Evidence) -> list[Finding]:
    """One finding per knowledge base (with its retrieval settings), from the newest run that measured it."""
    newest: dict[str, tuple[RunEvidence, str]] = {}
    for run in evidence.runs:  # oldest first: a newer run replaces an older one
        for system in run.run.systems:
            spec = spec_of(system)
            if spec.kb and any(run.metric_values(system, metric) for metric in RECALL_METRICS):
                newest[_retrieval_key(system)] = (run, system)
    if not newest:
        return [Finding.cannot_tell(MODE, WOULD_TELL)]
    findings = {key: _finding(run, system) for key, (run, system) in newest.items()}
    for key, (run, system) in newest.items():
        before = newest.get(key.replace(ADVISED_SUFFIX, "", 1)) if ADVISED_SUFFIX in key else None
        if before is not None and before[0].run.eval_set_sha256 == run.run.eval_set_sha256:
            findings[key] = _beside_before(findings[key], before, (run, system))
    return list(findings.values())


def _retrieval_key(system: str) -> str:
    """What decides retrieval: the knowledge base and its k and mode, not the model that reads the chunks."""
    spec = spec_of(system)
    settings = ", ".join(f"{key}={value}" for key, value in sorted(spec.retrieval.items()))
    return f"knowledge base {spec.kb}" + (f" ({settings})" if settings else "")


def _finding(run: RunEvidence, system: str) -> Finding:
    figures = [Figure.of(label, bootstrap_mean(list(values.values())))
               for metric, label in RECALL_METRICS.items() if (values := run.metric_values(system, metric))]
    low = [figure for figure in figures if figure.value < THRESHOLD]
    missed = [Question(run.id, item_id, system, "no labelled source in the top 5")
              for item_id, value in run.metric_values(system, "recall_at_5").items() if value == 0]
    subject = _retrieval_key(system)
    shown = "; ".join(figure.text() for figure in figures)
    if not low:
        return Finding(MODE, Status.NOT_FOUND, f"{shown}: at or above {THRESHOLD:.0%} in run {run.id}.", subject,
                       tuple(figures), (run.id,), tuple(missed))
    return Finding(MODE, Status.FOUND,
                   f"{shown} in run {run.id}: below {THRESHOLD:.0%}. {len(missed)} question(s) got none of their "
                   "files in the top 5.", subject, tuple(figures), (run.id,), tuple(missed),
                   Action("reindex_advised", f"Index {spec_of(system).kb} again with the advised chunking",
                          {"knowledge_base": spec_of(system).kb, "run_id": run.id, "system": system}))


def _beside_before(after: Finding, before: tuple[RunEvidence, str], advised: tuple[RunEvidence, str]) -> Finding:
    """The advised knowledge base's finding with the original's recall beside it, paired on the same questions."""
    (old_run, old_system), (new_run, new_system) = before, advised
    old, new = old_run.metric_values(old_system, "recall_at_5"), new_run.metric_values(new_system, "recall_at_5")
    questions = [item_id for item_id in new if item_id in old]
    if not questions:
        return after
    gain = bootstrap_mean([new[q] - old[q] for q in questions])
    mean_old, mean_new = (sum(values[q] for q in questions) / len(questions) for values in (old, new))
    text = (f"Before and after the advised re-index: file recall@5 {mean_old:.3f} on {spec_of(old_system).kb} "
            f"(run {old_run.id}), {mean_new:.3f} on {spec_of(new_system).kb} (run {new_run.id}), a gain of "
            f"{gain.mean:+.3f} [{gain.low:+.3f}, {gain.high:+.3f}] over {len(questions)} questions. ")
    return replace(after, summary=text + after.summary, figures=after.figures + (
        Figure.of("file recall@5 gain over the original", gain),), runs=(old_run.id, *after.runs))
