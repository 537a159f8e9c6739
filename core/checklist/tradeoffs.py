"""The seeds' trade-off tables, shown beside the questions.

Rows are kept verbatim in substance so a workshop argues with the source,
not with a paraphrase of it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Table:
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    source: str


WHAT_EACH_FIXES = Table(
    "What each approach fixes",
    ("", "RAG", "Fine-tuning"),
    (
        ("Fixes", "Knowledge gaps", "Behaviour gaps"),
        ("Update knowledge", "Edit a document, no retraining", "Retrain"),
        ("Traceable answers", "Yes: you know which chunk produced them", "No"),
        ("Upfront cost", "Lower", "Higher (data prep is the real cost)"),
        ("Best start for most teams", "Yes", "Add later, once behaviour is the blocker"),
    ),
    "RAG vs Fine-Tuning: Which One Should You Actually Choose?",
)

MECHANISMS = Table(
    "What changes, and what it costs to update",
    ("Dimension", "RAG", "Fine-tuning"),
    (
        ("What changes", "Nothing in the model", "The model's weights"),
        ("When the change applies", "Every inference (new context)", "Permanently, until retrained"),
        ("Best for", "Providing current facts, domain documents", "Changing reasoning style, tone, terminology"),
        ("Data freshness", "Always current (re-index documents)", "Frozen at training time"),
        ("Failure mode", "Retrieval miss → model hallucinates", "Stale facts baked into weights"),
        ("Setup cost", "Hours to days", "Days to weeks"),
        ("Cost to update", "Re-index changed documents", "Retrain (compute + time)"),
    ),
    "RAG vs Fine-Tuning: When to Use Each (and When to Combine Them)",
)

OPERATIONS = Table(
    "Speed, cost and quality",
    ("Metric", "RAG only", "Fine-tuning only", "RAG + fine-tuning"),
    (
        ("Time to first value", "Hours (index + prompt)", "Days to weeks (data prep + train)", "Weeks"),
        ("Cost to update", "Re-index changed docs (cheap)", "Retrain on GPU (expensive)", "Re-index only"),
        ("Recall on fresh data", "High (if retrieved)", "None (frozen weights)", "High"),
        ("Tone and style adherence", "Low (prompt-dependent)", "High (baked into weights)", "High"),
        ("Hallucination risk", "Lower (grounded in context)", "Higher (if undertrained)", "Lowest"),
        ("Latency overhead", "+100–500 ms retrieval", "0 ms (no retrieval)", "+100–500 ms"),
        ("Infrastructure floor", "Vector DB + embedding model", "GPU for training + serving", "Both"),
    ),
    "RAG vs Fine-Tuning: When to Use Each (and When to Combine Them)",
)

FAILURE_MODES = Table(
    "Failure modes: symptom, cause, fix",
    ("Symptom", "Approach", "Root cause", "Fix"),
    (
        ("Recall below 70%; model ignores documents in context", "RAG",
         "Chunks too large, or retrieval returns semantically distant passages",
         "Recursive chunking at 256–512 tokens; add a re-ranker"),
        ("Correct facts ignored in favour of old training knowledge", "RAG",
         "Context buried after a long system prompt", "Move context closer to the question"),
        ("Query latency above 2 s at scale", "RAG", "Flat (exact) index", "HNSW index; cache frequent queries"),
        ("Right style, but facts that changed after training", "Fine-tuning",
         "Fine-tuning used to inject facts", "Never inject facts by fine-tuning; add a RAG layer"),
        ("General reasoning degrades after fine-tuning", "Fine-tuning",
         "Learning rate too high (catastrophic forgetting)", "LR ≤ 1e-4, warmup, LoRA dropout"),
        ("Brittle on paraphrased inputs", "Fine-tuning", "Fewer than ~500 or too uniform examples",
         "Augment with paraphrases; DPO pairs"),
        ("Retrieved context contradicts trained beliefs", "Both",
         "Fine-tuning introduced strong priors", "Instruct to prefer context; reduce LoRA rank"),
    ),
    "RAG vs Fine-Tuning: When to Use Each (and When to Combine Them)",
)
