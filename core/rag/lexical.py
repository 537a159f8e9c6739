"""BM25 keyword search with `bm25s`, saved beside the knowledge base's vectors.

Dense vectors miss exact identifiers and rare words; BM25 finds them. Code
identifiers are also indexed as their parts (`get_model_path` -> get, model,
path; `HttpClient` -> http, client) so a question in words meets the code.
The chunks' text and place are saved with the index, so a keyword hit needs no
round trip to Chroma.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

from core.llm.base import Passage
from core.rag.chunking import indexed_text

CHUNKS_FILE = "chunks.json"
_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+|[a-z]+(?:[A-Z][a-z0-9]*)+|[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)+")
_PARTS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


@dataclass(frozen=True)
class LexicalHit:
    id: str
    score: float
    text: str
    metadata: dict[str, Any]


class Bm25Index:
    def __init__(self, retriever, ids: list[str], texts: list[str], metadatas: list[dict[str, Any]]):
        self._retriever = retriever
        self.ids, self.texts, self.metadatas = ids, texts, metadatas
        self._by_file: Optional[dict[str, list[Passage]]] = None

    @classmethod
    def build(cls, ids: Sequence[str], texts: Sequence[str], metadatas: Sequence[dict[str, Any]]) -> "Bm25Index":
        import bm25s

        retriever = bm25s.BM25()
        searchable = [indexed_text(m["source"], t, m.get("header", "")) for t, m in zip(texts, metadatas)]
        retriever.index(_tokenize(searchable), show_progress=False)
        return cls(retriever, list(ids), list(texts), list(metadatas))

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self._retriever.save(str(folder))
        (folder / CHUNKS_FILE).write_text(
            json.dumps({"ids": self.ids, "texts": self.texts, "metadatas": self.metadatas}), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> "Bm25Index":
        import bm25s

        saved = json.loads((folder / CHUNKS_FILE).read_text(encoding="utf-8"))
        return cls(bm25s.BM25.load(str(folder)), saved["ids"], saved["texts"], saved["metadatas"])

    def chunks_by_file(self) -> dict[str, list[Passage]]:
        """Every chunk as a passage, per file in line order (computed once)."""
        if self._by_file is None:
            by_file: dict[str, list[Passage]] = {}
            for meta, text in zip(self.metadatas, self.texts):
                by_file.setdefault(meta["source"], []).append(
                    Passage(meta["source"], meta["start_line"], meta["end_line"], text))
            self._by_file = {source: sorted(chunks, key=lambda c: c.start_line) for source, chunks in by_file.items()}
        return self._by_file

    def search(self, query: str, k: int) -> list[LexicalHit]:
        tokens = _tokenize([query], return_ids=False)
        if not tokens[0] or not self.ids:
            return []
        docs, scores = self._retriever.retrieve(tokens, k=min(k, len(self.ids)), show_progress=False)
        return [LexicalHit(self.ids[i], float(s), self.texts[i], self.metadatas[i])
                for i, s in zip(docs[0], scores[0]) if s > 0]


def split_identifiers(text: str) -> str:
    """`text` followed by the parts of its compound identifiers."""
    parts = [" ".join(_PARTS.findall(match)) for match in _IDENTIFIER.findall(text)]
    return text + ("\n" + " ".join(parts) if parts else "")


def _tokenize(texts: list[str], return_ids: bool = True):
    import bm25s
    import Stemmer

    return bm25s.tokenize([split_identifiers(t) for t in texts], stopwords="en",
                          stemmer=Stemmer.Stemmer("english"), return_ids=return_ids, show_progress=False)
