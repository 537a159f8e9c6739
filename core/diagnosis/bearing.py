"""How a found failure mode bears on a workshop's verdict: it supports a recommendation whose alternative it
shows failing, and weakens one that leans on the approach that failed. The decision report lists each."""

from __future__ import annotations

from typing import Optional

from core.checklist.instruments import Recommendation
from core.diagnosis.finding import Finding

RAG, FINE_TUNE, BOTH, START_WITH_RAG = (Recommendation.RAG, Recommendation.FINE_TUNE, Recommendation.BOTH,
                                        Recommendation.START_WITH_RAG)
LEANS_ON_RAG = {RAG, START_WITH_RAG, BOTH}
# mode -> (the recommendations it supports, those it weakens)
BEARING: dict[str, tuple[set[Recommendation], set[Recommendation]]] = {
    "retrieval_recall": ({FINE_TUNE}, LEANS_ON_RAG),
    "context_ignored": ({FINE_TUNE}, LEANS_ON_RAG),
    "latency": ({FINE_TUNE}, LEANS_ON_RAG),
    "stale_facts": (LEANS_ON_RAG, {FINE_TUNE}),  # facts belong in retrieval, as the seed says
    "forgetting": ({RAG, START_WITH_RAG}, {FINE_TUNE, BOTH}),
    "overfitting": ({RAG, START_WITH_RAG}, {FINE_TUNE, BOTH}),
    "self_disagreement": (set(), {BOTH}),
}
SUPPORTS, WEAKENS = "supports", "weakens"


def bearing(finding: Finding, recommendation: Optional[str]) -> Optional[str]:
    """"supports", "weakens" or None (a mode not found, no verdict yet, or a mode that does not bear on it)."""
    if not finding.found or recommendation not in {r.value for r in Recommendation}:
        return None
    supports, weakens = BEARING.get(finding.mode.key, (set(), set()))
    chosen = Recommendation(recommendation)
    return SUPPORTS if chosen in supports else WEAKENS if chosen in weakens else None


def bearing_lines(findings: list[Finding], recommendation: Optional[str]) -> list[str]:
    """One markdown bullet per found mode, saying how it bears on the verdict."""
    lines = []
    for finding in findings:
        if not finding.found:
            continue
        effect = bearing(finding, recommendation) or "does not bear on"
        about = f" ({finding.subject})" if finding.subject else ""
        lines.append(f"- {finding.mode.title}{about} {effect} the verdict: {finding.summary} Fix: {finding.fix}.")
    return lines
