"""Split a file's text into chunks that keep their place in the file.

Every chunker returns character spans over the original text, so each chunk's
line range is exact and a citation can point at `path:L12-L40`. The strategy is
chosen per knowledge base (`KnowledgeBaseConfig.chunker`):

- fixed: windows of `chunk_size` characters with `chunk_overlap`;
- recursive: paragraphs, then sentences, then words, merged up to `chunk_size`;
- semantic: sentences grouped until the embedding similarity of neighbours drops;
- code: Python by function/class (`ast`), other languages and markdown by
  LangChain's language-aware splitter, prose recursively.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from dataclasses import dataclass
from typing import Optional, Sequence

from core.rag.chunking.code import code_spans, python_headers
from core.rag.chunking.semantic import semantic_spans
from core.rag.chunking.spans import Embed, Span, fixed_spans, recursive_spans, trim
from core.rag.config import KnowledgeBaseConfig
from core.rag.loaders import SourceFile


@dataclass(frozen=True)
class Chunk:
    source: str
    text: str
    start_line: int  # 1-based, inclusive
    end_line: int
    content_hash: str
    header: str = ""  # where the chunk sits (class > def signature): indexed with it, never shown in it

    @property
    def id(self) -> str:
        """Stable while the file and the chunker settings are unchanged."""
        return hashlib.sha1(f"{self.source}\0{self.start_line}\0{self.content_hash}".encode()).hexdigest()

    @property
    def search_text(self) -> str:
        return indexed_text(self.source, self.text, self.header)

    def metadata(self) -> dict[str, object]:
        return {"source": self.source, "start_line": self.start_line, "end_line": self.end_line,
                "content_hash": self.content_hash, "header": self.header}


def indexed_text(source: str, text: str, header: str = "") -> str:
    """What a chunk is embedded and keyword-indexed as: its path (`auth/tokens.py`) and, inside code,
    the definitions around it carry meaning that the chunk's own text often lacks."""
    return "\n".join(filter(None, (source, header, text)))


def chunk_file(file: SourceFile, config: KnowledgeBaseConfig, embed: Optional[Embed] = None) -> list[Chunk]:
    """The chunks of one file under the knowledge base's chunker."""
    if config.chunker == "fixed":
        spans = fixed_spans(file.text, config.chunk_size, config.chunk_overlap)
    elif config.chunker == "recursive":
        spans = recursive_spans(file.text, config.chunk_size, config.chunk_overlap)
    elif config.chunker == "semantic":
        if embed is None:
            raise ValueError("the semantic chunker needs an embedding function")
        spans = semantic_spans(file.text, config.chunk_size, embed)
    else:
        spans = code_spans(file.path, file.text, config.chunk_size, config.chunk_overlap)
    spans = [span for span in (trim(file.text, *span) for span in spans) if span[0] < span[1]]
    headers = None
    if config.contextual_headers and file.path.endswith((".py", ".pyi")):
        headers = python_headers(file.text, spans)
    return spans_to_chunks(file, spans, headers)


def spans_to_chunks(file: SourceFile, spans: Sequence[Span], headers: Optional[Sequence[str]] = None) -> list[Chunk]:
    line_starts = [0] + [m.end() for m in re.finditer("\n", file.text)]
    chunks = []
    for number, (start, end) in enumerate(spans):
        start, end = trim(file.text, start, end)
        if start >= end:
            continue
        text = file.text[start:end]
        chunks.append(Chunk(
            source=file.path,
            text=text,
            start_line=bisect.bisect_right(line_starts, start),
            end_line=bisect.bisect_right(line_starts, end - 1),
            content_hash=hashlib.sha256(text.encode("utf-8")).hexdigest()[:16],
            header=headers[number] if headers else "",
        ))
    return chunks
