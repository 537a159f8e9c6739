"""Every metric a run can grade with, described once; the grader, the run summary, the comparison,
the ragas adapter, the report and the pages read this table rather than knowing metric names.

For each metric: its name (as the JSON and `--fail-under` spell it), what it measures, what
computes it, what an answer must come with for it to apply (a RAG-only metric needs retrieved
chunks), whether it is pass/fail or graded, its direction, whether it is a headline accuracy
metric, and whether it measures the judge rather than the answers. Scores are on a 0-1 axis.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from statistics import median
from typing import TYPE_CHECKING, Callable, Collection, Optional, Sequence

from core.evaluation import metrics
from core.evaluation.metrics import Graded

if TYPE_CHECKING:
    from core.store.tables import EvalItem


class Needs(Enum):
    """What an answer, with its eval item, must come with for a metric to score it."""

    REFERENCE = "a reference answer"
    KEYWORDS = "keywords"
    RETRIEVAL = "retrieved chunks"  # only a RAG system's answers have them
    SOURCES = "labelled source files"
    EVIDENCE = "labelled evidence lines"
    REFERENCE_CONTEXTS = "reference contexts"


@dataclass(frozen=True)
class MetricInfo:
    name: str
    description: str  # what it measures, for help texts
    computed_by: str  # "lab" (core/evaluation/metrics.py), "ragas" (core/evaluation/ragas_metrics.py), "judge"
    needs: frozenset[Needs] = frozenset()
    pass_fail: bool = False  # each answer scores 0 or 1; else graded anywhere from 0 to 1
    higher_is_better: bool = True
    needs_judge: bool = False
    headline: bool = False  # an accuracy metric the decision report leads with
    about_the_judge: bool = False  # describes the grading, not the answers: shown, never compared between runs
    per_answer: Optional[Callable[[Graded], Optional[float]]] = None  # lab metrics scored one answer at a time

    @property
    def rag_only(self) -> bool:
        return Needs.RETRIEVAL in self.needs

    def applies(self, present: Collection[Needs]) -> bool:
        """Whether an answer that comes with `present` can be scored."""
        return self.needs <= frozenset(present)

    @property
    def help(self) -> str:
        """One line: what it measures, its scale and direction, and what it needs."""
        scale = "pass/fail (0 or 1)" if self.pass_fail else "graded 0-1"
        direction = "higher is better" if self.higher_is_better else "lower is better"
        needs = [need.value for need in Needs if need in self.needs] + (["a judge"] if self.needs_judge else [])
        needed = f"; {'RAG only: ' if self.rag_only else ''}needs {', '.join(needs)}" if needs else ""
        return f"{self.description} ({scale}, {direction}{needed})"

    @property
    def failure_scores_zero(self) -> bool:
        """Whether a failed answer counts as a 0 in the mean over all questions: only where 0 is the worst
        score of the answer (a 0 would flatter a lower-is-better metric, and a measure of the judge)."""
        return self.higher_is_better and not self.about_the_judge


JUDGE_CORRECTNESS = "judge_correctness"
JUDGE_SPREAD = "judge_spread"
UNSTABLE_SPREAD = 0.5  # a judge_spread this wide (two steps of the 1-5 scale, e.g. 3/5 and 5/5) is unstable
CONTAINS_REFERENCE = "contains_reference"
SHORT_REFERENCE_WORDS = 5  # contains_reference is on by default when the median reference is this short

# Headline metrics lead the decision report in this order: the judge's grade first.
_ALL = (
    MetricInfo(JUDGE_CORRECTNESS, "the judge's 1-5 grade against the reference, as (score - 1) / 4", "judge",
               frozenset({Needs.REFERENCE}), needs_judge=True, headline=True),
    MetricInfo(JUDGE_SPREAD, "how far the judge's repeated grades of one answer lie apart (highest less lowest); "
               "only with judge repeats", "judge", frozenset({Needs.REFERENCE}), higher_is_better=False,
               needs_judge=True, about_the_judge=True),
    MetricInfo("exact_match", "the answer equals the reference (lowercased, no punctuation or articles)", "lab",
               frozenset({Needs.REFERENCE}), pass_fail=True, per_answer=metrics.exact_match),
    MetricInfo(CONTAINS_REFERENCE, "the answer contains the reference (both normalised as exact_match's)", "lab",
               frozenset({Needs.REFERENCE}), pass_fail=True, per_answer=metrics.contains_reference),
    MetricInfo("keyword_presence", "share of the item's keywords the answer contains", "lab",
               frozenset({Needs.KEYWORDS}), headline=True, per_answer=metrics.keyword_presence),
    MetricInfo("token_f1", "word overlap of answer and reference (SQuAD's F1)", "lab",
               frozenset({Needs.REFERENCE}), headline=True, per_answer=metrics.token_f1),
    MetricInfo("semantic_similarity", "cosine of answer and reference, with the local embedding model", "lab",
               frozenset({Needs.REFERENCE})),
    MetricInfo("recall_at_5", "share of the labelled source files among the top 5 retrieved", "lab",
               frozenset({Needs.RETRIEVAL, Needs.SOURCES}), per_answer=metrics.recall_at_5),
    MetricInfo("mrr", "1 / rank of the first retrieved chunk from a labelled source file", "lab",
               frozenset({Needs.RETRIEVAL, Needs.SOURCES}), per_answer=metrics.mrr),
    MetricInfo("ndcg_at_5", "discounted gain of labelled source files in the top 5", "lab",
               frozenset({Needs.RETRIEVAL, Needs.SOURCES}), per_answer=metrics.ndcg_at_5),
    MetricInfo("evidence_recall_at_5", "share of the labelled answering lines a top-5 chunk holds whole", "lab",
               frozenset({Needs.RETRIEVAL, Needs.EVIDENCE}), per_answer=metrics.evidence_recall_at_5),
    MetricInfo("evidence_mrr", "1 / rank of the first chunk holding labelled answering lines whole", "lab",
               frozenset({Needs.RETRIEVAL, Needs.EVIDENCE}), per_answer=metrics.evidence_mrr),
    MetricInfo("string_similarity", "Levenshtein similarity of answer and reference", "ragas",
               frozenset({Needs.REFERENCE})),
    MetricInfo("bleu", "BLEU of the answer against the reference (sacrebleu)", "ragas", frozenset({Needs.REFERENCE})),
    MetricInfo("rouge_l", "ROUGE-L F-measure of the answer against the reference", "ragas",
               frozenset({Needs.REFERENCE})),
    MetricInfo("nonllm_context_precision",
               "ranked precision of retrieved chunks that match a reference context (string similarity)", "ragas",
               frozenset({Needs.RETRIEVAL, Needs.REFERENCE_CONTEXTS})),
    MetricInfo("nonllm_context_recall", "share of reference contexts found among the retrieved chunks", "ragas",
               frozenset({Needs.RETRIEVAL, Needs.REFERENCE_CONTEXTS})),
    MetricInfo("faithfulness", "share of the answer's claims the retrieved chunks support", "ragas",
               frozenset({Needs.RETRIEVAL}), needs_judge=True, headline=True),
    MetricInfo("answer_relevancy", "how well questions generated back from the answer match the question", "ragas",
               needs_judge=True),
    MetricInfo("context_precision", "ranked precision of the chunks the judge finds useful for the reference",
               "ragas", frozenset({Needs.RETRIEVAL, Needs.REFERENCE}), needs_judge=True),
    MetricInfo("context_recall", "share of the reference's claims the retrieved chunks support", "ragas",
               frozenset({Needs.RETRIEVAL, Needs.REFERENCE}), needs_judge=True),
)
CATALOG: dict[str, MetricInfo] = {metric.name: metric for metric in _ALL}
# What a run can be asked for by name; judge_correctness comes with choosing a judge, judge_spread with repeats.
METRICS = tuple(name for name in CATALOG if name not in (JUDGE_CORRECTNESS, JUDGE_SPREAD))
OFFLINE_METRICS = tuple(name for name in METRICS if not CATALOG[name].needs_judge)
RAGAS_METRICS = tuple(name for name in METRICS if CATALOG[name].computed_by == "ragas")
JUDGE_METRICS = tuple(name for name in METRICS if CATALOG[name].needs_judge)
HEADLINE_METRICS = tuple(name for name in CATALOG if CATALOG[name].headline)


def default_metrics(items: Sequence[EvalItem]) -> tuple[str, ...]:
    """The metrics a run of these items gets unless told otherwise: every offline one, but
    contains_reference only where references are short (the median at most SHORT_REFERENCE_WORDS
    words), since a long free-text reference is never contained verbatim."""
    lengths = [len(item.reference_answer.split()) for item in items if item.reference_answer is not None]
    short = bool(lengths) and median(lengths) <= SHORT_REFERENCE_WORDS
    return tuple(name for name in OFFLINE_METRICS if short or name != CONTAINS_REFERENCE)


def item_needs(item: EvalItem) -> frozenset[Needs]:
    """What an eval item comes with, as metrics need it; retrieval comes with an answer, not the item."""
    there = {Needs.REFERENCE: item.reference_answer is not None, Needs.KEYWORDS: bool(item.keywords),
             Needs.SOURCES: bool(item.relevant_sources), Needs.EVIDENCE: bool(item.evidence),
             Needs.REFERENCE_CONTEXTS: bool(item.reference_contexts)}
    return frozenset(need for need, present in there.items() if present)
