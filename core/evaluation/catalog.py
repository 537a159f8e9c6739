"""Every metric a run can grade with: its name (as the JSON and `--fail-under` spell it), what
computes it, and whether it needs a judge. Scores are on a 0-1 axis, higher is better."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MetricInfo:
    name: str
    description: str
    computed_by: str  # "lab" (core/evaluation/metrics.py), "ragas", or "judge"
    needs_judge: bool = False


JUDGE_CORRECTNESS = "judge_correctness"

_ALL = (
    MetricInfo("exact_match", "the answer equals the reference (lowercased, no punctuation or articles)", "lab"),
    MetricInfo("keyword_presence", "share of the item's keywords the answer contains", "lab"),
    MetricInfo("token_f1", "word overlap of answer and reference (SQuAD's F1)", "lab"),
    MetricInfo("semantic_similarity", "cosine of answer and reference, with the local embedding model", "lab"),
    MetricInfo("recall_at_5", "RAG: share of the labelled source files among the top 5 retrieved", "lab"),
    MetricInfo("mrr", "RAG: 1 / rank of the first retrieved chunk from a labelled source file", "lab"),
    MetricInfo("ndcg_at_5", "RAG: discounted gain of labelled source files in the top 5", "lab"),
    MetricInfo("evidence_recall_at_5", "RAG: share of the labelled answering lines a top-5 chunk holds whole",
               "lab"),
    MetricInfo("evidence_mrr", "RAG: 1 / rank of the first chunk holding labelled answering lines whole", "lab"),
    MetricInfo("string_similarity", "Levenshtein similarity of answer and reference", "ragas"),
    MetricInfo("bleu", "BLEU of the answer against the reference (sacrebleu)", "ragas"),
    MetricInfo("rouge_l", "ROUGE-L F-measure of the answer against the reference", "ragas"),
    MetricInfo("nonllm_context_precision",
               "RAG: ranked precision of retrieved chunks that match a reference context (string similarity)",
               "ragas"),
    MetricInfo("nonllm_context_recall", "RAG: share of reference contexts found among the retrieved chunks",
               "ragas"),
    MetricInfo("faithfulness", "RAG: share of the answer's claims the retrieved chunks support", "ragas", True),
    MetricInfo("answer_relevancy", "how well questions generated back from the answer match the question",
               "ragas", True),
    MetricInfo("context_precision", "RAG: ranked precision of the chunks the judge finds useful for the reference",
               "ragas", True),
    MetricInfo("context_recall", "RAG: share of the reference's claims the retrieved chunks support", "ragas", True),
    MetricInfo(JUDGE_CORRECTNESS, "the judge's 1-5 grade against the reference, as (score - 1) / 4", "judge", True),
)
CATALOG: dict[str, MetricInfo] = {metric.name: metric for metric in _ALL}
# What a run can be asked for by name; judge_correctness comes with choosing a judge.
METRICS = tuple(name for name in CATALOG if name != JUDGE_CORRECTNESS)
OFFLINE_METRICS = tuple(name for name in METRICS if not CATALOG[name].needs_judge)
RAGAS_METRICS = tuple(name for name in METRICS if CATALOG[name].computed_by == "ragas")
