"""What the Knowledge and Playground pages show of retrieval: knowledge bases, an indexing job's outcome,
search hits per mode, a chunk preview and an answer's citations, as plain rows and strings (no Streamlit)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from core.llm.base import Citation
from core.rag.chunking import Chunk
from core.rag.loaders import human_size
from core.rag.retrieval import ModeResult
from core.store.tables import KnowledgeBase

HIT_PREVIEW_CHARS = 400


@dataclass(frozen=True)
class SearchColumn:
    """One search mode's results: its heading, and each hit as (its ranked line, the start of its text)."""

    heading: str
    hits: list[tuple[str, str]]


def knowledge_base_rows(bases: Sequence[KnowledgeBase]) -> list[dict[str, Any]]:
    return [{"Name": kb.name, "Status": kb.status, "Files": kb.file_count, "Chunks": kb.chunk_count,
             "Size": human_size(kb.size_bytes), "Chunker": kb.config.get("chunker"),
             "Neighbours": kb.config.get("neighbours", 0), "Reranker": kb.config.get("reranker_model") or "-",
             "Last indexed (UTC)": f"{kb.last_indexed_at:%Y-%m-%d %H:%M}" if kb.last_indexed_at else "-",
             "Source": kb.config.get("source_path"), "Last error": kb.error or ""} for kb in bases]


def index_outcome(result: Mapping[str, Any]) -> str:
    """A finished indexing job's result in a few words: "120 chunk(s) in 4.2 s"."""
    return f"{result.get('chunks', 0)} chunk(s) in {result.get('seconds', 0):.1f} s"


def search_columns(results: Sequence[ModeResult]) -> list[SearchColumn]:
    return [SearchColumn(f"**{result.mode}** · {result.latency_ms:.0f} ms",
                         [(f"{rank}. `{hit.location}` · score {hit.score:.4f}", hit.text[:HIT_PREVIEW_CHARS])
                          for rank, hit in enumerate(result.hits, start=1)])
            for result in results]


def chunk_rows(chunks: Sequence[Chunk]) -> list[dict[str, Any]]:
    return [{"Lines": f"{c.start_line}-{c.end_line}", "Characters": len(c.text), "Text": c.text} for c in chunks]


def citation_label(citation: Mapping[str, Any]) -> str:
    """"[1] docs/auth.md:L3-L9": the number the answer cites, and where the cited chunk sits.
    `citation` is a `Citation` as an answer stores it (a dict)."""
    return f"[{citation['number']}] {Citation(**citation).location}"
