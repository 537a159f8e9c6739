"""What the Knowledge and Playground pages show of retrieval: rows, outcomes, search columns, citations."""

from dataclasses import asdict
from datetime import datetime

from core.llm.base import Citation
from core.rag.chunking import Chunk
from core.rag.retrieval import Hit, ModeResult
from core.rag.views import (HIT_PREVIEW_CHARS, chunk_rows, citation_label, index_outcome, knowledge_base_rows,
                            search_columns)
from core.store.tables import KnowledgeBase


def test_a_knowledge_base_row_shows_its_size_settings_and_last_index():
    indexed = KnowledgeBase(name="docs", status="ready", file_count=3, chunk_count=40, size_bytes=2_500_000,
                            config={"chunker": "code", "neighbours": 1, "reranker_model": "lm:smollm2",
                                    "source_path": "/srv/docs"}, last_indexed_at=datetime(2025, 5, 6, 7, 8, 9))
    fresh = KnowledgeBase(name="new", status="indexing", config={}, error="disk full")
    assert knowledge_base_rows([indexed, fresh]) == [
        {"Name": "docs", "Status": "ready", "Files": 3, "Chunks": 40, "Size": "2.5 MB", "Chunker": "code",
         "Neighbours": 1, "Reranker": "lm:smollm2", "Last indexed (UTC)": "2025-05-06 07:08", "Source": "/srv/docs",
         "Last error": ""},
        {"Name": "new", "Status": "indexing", "Files": 0, "Chunks": 0, "Size": "0 bytes", "Chunker": None,
         "Neighbours": 0, "Reranker": "-", "Last indexed (UTC)": "-", "Source": None, "Last error": "disk full"},
    ]


def test_an_indexing_outcome_counts_chunks_and_seconds():
    assert index_outcome({"chunks": 120, "seconds": 4.25}) == "120 chunk(s) in 4.2 s"
    assert index_outcome({}) == "0 chunk(s) in 0.0 s"


def test_each_search_mode_is_a_column_of_ranked_hits_with_the_start_of_their_text():
    long_hit = Hit("auth.py", 3, 9, "x" * 1000, score=0.123456)
    columns = search_columns([ModeResult("hybrid", [long_hit, Hit("a.md", 1, 2, "short", score=2.0)], 12.6),
                              ModeResult("bm25", [], 0.4)])
    assert [c.heading for c in columns] == ["**hybrid** · 13 ms", "**bm25** · 0 ms"]
    assert columns[0].hits == [("1. `auth.py:L3-L9` · score 0.1235", "x" * HIT_PREVIEW_CHARS),
                               ("2. `a.md:L1-L2` · score 2.0000", "short")]
    assert columns[1].hits == []


def test_a_chunk_preview_row_gives_its_lines_and_length():
    chunk = Chunk("auth.py", "def f():\n    pass", 4, 5, "hash")
    assert chunk_rows([chunk]) == [{"Lines": "4-5", "Characters": 17, "Text": "def f():\n    pass"}]


def test_a_stored_citation_is_labelled_by_its_number_and_place():
    stored = asdict(Citation("docs/auth.md", 3, 9, "tokens expire", number=2))
    assert citation_label(stored) == "[2] docs/auth.md:L3-L9"
