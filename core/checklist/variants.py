"""The variants an experiment builds and compares, described once: base, RAG, fine-tuned, both.

A verdict's experiment names variants by key; the eval run turns each into a system spec (a
knowledge base, an adapter, both or neither) and the decision report finds the variant a system
spec is. All of them read this table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable


@dataclass(frozen=True)
class ExperimentVariant:
    key: str  # as verdicts store it
    label: str
    uses_knowledge_base: bool
    uses_adapter: bool


_ALL = (
    ExperimentVariant("base", "Base model", uses_knowledge_base=False, uses_adapter=False),
    ExperimentVariant("rag", "RAG", uses_knowledge_base=True, uses_adapter=False),
    ExperimentVariant("fine_tuned", "Fine-tuned", uses_knowledge_base=False, uses_adapter=True),
    ExperimentVariant("rag_fine_tuned", "RAG + fine-tuned", uses_knowledge_base=True, uses_adapter=True),
)
VARIANTS: dict[str, ExperimentVariant] = {variant.key: variant for variant in _ALL}


def variant_with(knowledge_base: bool, adapter: bool) -> ExperimentVariant:
    """The variant a system is, from whether it answers from a knowledge base and runs an adapter."""
    return next(v for v in _ALL if (v.uses_knowledge_base, v.uses_adapter) == (knowledge_base, adapter))


def variant_labels(keys: Iterable[str]) -> str:
    """"Base model, RAG": the variants' labels, a key this table lacks (an older record's) as it is."""
    return ", ".join(VARIANTS[key].label if key in VARIANTS else key for key in keys)
