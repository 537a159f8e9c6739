"""A decision session's proposed experiment, turned into the systems of an eval run.

Decide stores each session's verdict with the experiment that would confirm it: the variants to
compare (base, RAG, fine-tuned, RAG + fine-tuned), what the eval set should hold, and what result
confirms the verdict. A run started from it records the session, so its report can find the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from core.checklist.sessions import get_session, list_sessions
from core.checklist.variants import VARIANTS, ExperimentVariant, variant_labels
from core.errors import InvalidInputError
from core.llm.spec import SystemSpec, parse_spec
from core.store import Database


@dataclass(frozen=True)
class ProposedExperiment:
    session_id: int
    session_name: str
    verdict: str  # the recommendation's label, e.g. "Start with RAG"
    variants: tuple[str, ...]  # keys of core.checklist.variants.VARIANTS
    eval_set: str  # what the eval set should hold
    confirms_if: str

    @property
    def variant_labels(self) -> str:
        return variant_labels(self.variants)

    @property
    def needs_knowledge_base(self) -> bool:
        return any(VARIANTS[variant].uses_knowledge_base for variant in self.variants)

    @property
    def needs_adapter(self) -> bool:
        return any(VARIANTS[variant].uses_adapter for variant in self.variants)


def proposed_experiment(db: Database, session_id: int) -> ProposedExperiment:
    session = get_session(db, session_id)
    if not session.verdict:
        raise InvalidInputError(f"Decision session {session.name!r} has no verdict yet: answer its checklist on "
                                "the Decide page first.")
    plan = session.verdict["experiment"]
    return ProposedExperiment(session.id, session.name, session.verdict["label"], tuple(plan["variants"]),
                              plan["eval_set"], plan["confirms_if"])


def proposed_experiments(db: Database) -> list[ProposedExperiment]:
    """The experiment of every session that has a verdict, newest session first."""
    return [proposed_experiment(db, summary.id) for summary in list_sessions(db) if summary.recommendation]


def experiment_systems(experiment: ProposedExperiment, knowledge_base: Optional[str] = None,
                       adapter: Optional[str] = None, model: str = "local") -> list[str]:
    """The system specs of the experiment's variants: `model` alone, with the knowledge base, with
    the adapter, and with both."""
    if experiment.needs_knowledge_base and not knowledge_base:
        raise InvalidInputError(f"{experiment.session_name!r}'s experiment compares RAG: choose the knowledge base "
                                "it answers from.")
    if experiment.needs_adapter and not adapter:
        raise InvalidInputError(f"{experiment.session_name!r}'s experiment compares a fine-tuned model: choose "
                                "the adapter (train one on the Fine-tune page first).")
    base = parse_spec(model)
    # parsed again: the spec's grammar checks the options (an adapter needs a local model)
    return [parse_spec(_variant_spec(base, VARIANTS[key], knowledge_base, adapter).text).text
            for key in experiment.variants]


def _variant_spec(spec: SystemSpec, variant: ExperimentVariant, knowledge_base: Optional[str],
                  adapter: Optional[str]) -> SystemSpec:
    """`spec` with the knowledge base and the adapter that the variant uses."""
    model_options = {**spec.options, **({"adapter": adapter} if variant.uses_adapter else {})}
    return SystemSpec(spec.backend, spec.model, model_options,
                      kb=knowledge_base if variant.uses_knowledge_base else spec.kb, retrieval=dict(spec.retrieval))
