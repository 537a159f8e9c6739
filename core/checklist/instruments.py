"""The seeds' decision instruments, as data.

Sources (`shared/seeds/`): the nine-question checklist and the six-factor
scoring table from "RAG vs Fine-Tuning: When to Use Each (and When to Combine
Them)"; the five-step quick list and the knowledge-gap / behaviour-gap framing
from "RAG vs Fine-Tuning: Which One Should You Actually Choose?".
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Optional


class Recommendation(str, Enum):
    RAG = "rag"
    FINE_TUNE = "fine_tune"
    BOTH = "both"
    START_WITH_RAG = "start_with_rag"

    @property
    def label(self) -> str:
        return RECOMMENDATION_LABELS[self]

    @property
    def short(self) -> str:
        """The name used inside a sentence."""
        return SHORT_NAMES[self]


RECOMMENDATION_LABELS = {
    Recommendation.RAG: "RAG only",
    Recommendation.FINE_TUNE: "Fine-tuning only",
    Recommendation.BOTH: "Both: fine-tune for behaviour, RAG for facts",
    Recommendation.START_WITH_RAG: "Start with RAG, add fine-tuning later",
}

SHORT_NAMES = {
    Recommendation.RAG: "RAG",
    Recommendation.FINE_TUNE: "fine-tuning",
    Recommendation.BOTH: "RAG + fine-tuning",
    Recommendation.START_WITH_RAG: "start with RAG",
}

YES, NO, UNSURE = "yes", "no", "unsure"
YES_NO_ANSWERS = (YES, NO, UNSURE)


@dataclass(frozen=True)
class Question:
    """A yes/no question whose arrows either stop the walk or continue it (None)."""

    key: str
    text: str
    on_yes: Optional[Recommendation]
    on_no: Optional[Recommendation]
    why_yes: str = ""
    why_no: str = ""

    def arrow(self, answer: str) -> Optional[Recommendation]:
        return {YES: self.on_yes, NO: self.on_no}.get(answer)

    def why(self, answer: str) -> str:
        return {YES: self.why_yes, NO: self.why_no}.get(answer, "")


R = Recommendation
NINE_QUESTIONS: tuple[Question, ...] = (
    Question("changes_monthly", "Does your knowledge base change more often than once per month?",
             R.RAG, None, why_yes="Knowledge that changes monthly or faster goes stale in weights; "
             "re-indexing a document is cheap, retraining is not."),
    Question("traceable", "Must every answer be traceable to a source document?",
             R.RAG, None, why_yes="Fine-tuned weights cannot say where an answer came from; "
             "retrieval cites the chunk it used."),
    Question("style_format", "Is the problem about tone, writing style, or output format?",
             R.FINE_TUNE, None, why_yes="Tone, style and format are behaviour: training changes "
             "behaviour, retrieved context does not."),
    Question("many_examples", "Do you have more than 500 high-quality labelled examples?",
             None, R.RAG, why_no="Fine-tuning on fewer than ~500 examples usually memorises their "
             "phrasing and hurts more than it helps."),
    Question("latency_ok", "Is retrieval latency (a 100–500 ms round-trip) acceptable in your product?",
             None, R.FINE_TUNE, why_no="A product that cannot absorb a retrieval round-trip needs "
             "the knowledge in the weights."),
    Question("gpu", "Does your team have GPU infrastructure for training and serving?",
             None, R.RAG, why_no="Without GPUs to train and serve a model, fine-tuning is off the "
             "table; RAG needs only a vector store and an embedding model."),
    Question("terminology_syntax", "Does the model need to understand domain-specific terminology as "
             "syntax (e.g. legal clause types, financial instrument names)?",
             R.FINE_TUNE, None, why_yes="Terminology used as syntax is learned in the weights; "
             "injected context does not reliably change how the model reads it."),
    Question("facts_and_style", "Do you need both current facts AND consistent style?",
             R.BOTH, None, why_yes="Current facts need retrieval and a consistent voice needs "
             "training: fine-tune for behaviour, layer RAG on top for facts."),
    Question("regulated", "Are you building a production assistant that handles sensitive, "
             "regulated, or legally significant content?",
             R.BOTH, R.RAG, why_yes="RAG grounds every answer in sources; fine-tuning holds the "
             "compliance tone.", why_no="Nothing here calls for training: RAG is the safer "
             "starting point."),
)

# "Run down this list; stop at the first strong signal." Step 5, "Still unsure?
# Start with RAG", is the walk's fallback rather than a question.
QUICK_STEPS: tuple[Question, ...] = (
    Question("changes_often", "Knowledge changes often?", R.RAG, None,
             why_yes="Retraining on every document update is masochism."),
    Question("cited", "Need source-cited / auditable answers?", R.RAG, None,
             why_yes="Fine-tuned weights can't tell you why."),
    Question("behaviour_wrong", "The model keeps getting the format / tone / judgement wrong, "
             "not the facts?", R.FINE_TUNE, None,
             why_yes="That is a behaviour gap, which is what fine-tuning fixes."),
    Question("few_hundred_examples", "Have a few hundred clean labelled examples?", None, R.RAG,
             why_no="They are required for fine-tuning; without them RAG is the faster start."),
)
QUICK_FALLBACK = "Still unsure? Start with RAG: cheaper to build, easier to debug."


@dataclass(frozen=True)
class Factor:
    key: str
    name: str
    rag_side: str
    fine_tune_side: str


RAG_SIDE, FINE_TUNE_SIDE, NEUTRAL = "rag", "fine_tune", "neutral"
FACTOR_ANSWERS = (RAG_SIDE, FINE_TUNE_SIDE, NEUTRAL)

SIX_FACTORS: tuple[Factor, ...] = (
    Factor("freshness", "Data freshness", "Data changes weekly or daily",
           "Knowledge domain is stable for months"),
    Factor("knowledge_type", "Knowledge type", "Facts, documents, policies, product specs",
           "Reasoning style, tone, output format, domain jargon as syntax"),
    Factor("data_volume", "Data volume", "Any size: chunked at retrieval time",
           "More than 500 high-quality labelled examples"),
    Factor("latency", "Latency budget", "Can absorb a 100–500 ms retrieval round-trip",
           "Need sub-500 ms with no external dependencies"),
    Factor("infrastructure", "Infrastructure", "Vector DB + embedding model (no GPU)",
           "GPU for training and for serving the fine-tuned model"),
    Factor("auditability", "Auditability need", "Must cite sources; answers must be traceable",
           "Behaviour audit (did the model respond correctly?), not source audit"),
)

KNOWLEDGE_GAP, BEHAVIOUR_GAP, BOTH_GAPS = "knowledge", "behaviour", "both"
FRAMING_QUESTION = ("Is the problem that the model doesn't know your facts, or that it doesn't "
                    "behave the way you want?")
FRAMING_ANSWERS = {
    KNOWLEDGE_GAP: "Knowledge gap: it doesn't know our facts",
    BEHAVIOUR_GAP: "Behaviour gap: it knows, but format, tone or judgement is wrong",
    BOTH_GAPS: "Both gaps",
    UNSURE: "Not sure yet",
}
FRAMING_POINTS_TO = {KNOWLEDGE_GAP: R.RAG, BEHAVIOUR_GAP: R.FINE_TUNE, BOTH_GAPS: R.BOTH}
FRAMING_NOTE = ("Knowledge gap → RAG. Behaviour gap → fine-tuning. Most \"we need fine-tuning\" "
                "requests are knowledge gaps in disguise.")

# Every answerable question of a session, by its stored key, with its allowed answers.
FRAMING_KEY = "framing.gap"
QUESTION_ANSWERS: dict[str, tuple[str, ...]] = {
    FRAMING_KEY: tuple(FRAMING_ANSWERS),
    **{f"checklist.{q.key}": YES_NO_ANSWERS for q in NINE_QUESTIONS},
    **{f"quick.{q.key}": YES_NO_ANSWERS for q in QUICK_STEPS},
    **{f"factor.{f.key}": FACTOR_ANSWERS for f in SIX_FACTORS},
}
QUESTION_TEXTS: dict[str, str] = {
    FRAMING_KEY: FRAMING_QUESTION,
    **{f"checklist.{q.key}": q.text for q in NINE_QUESTIONS},
    **{f"quick.{q.key}": q.text for q in QUICK_STEPS},
    **{f"factor.{f.key}": f.name for f in SIX_FACTORS},
}

