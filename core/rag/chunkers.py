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
from typing import Callable, Optional, Sequence

import numpy as np

from core.rag.config import KnowledgeBaseConfig
from core.rag.loaders import SourceFile

Span = tuple[int, int]
Embed = Callable[[list[str]], np.ndarray]
# Paragraphs, then sentence ends, then single newlines, then spaces.
_LEVELS = (re.compile(r"\n\s*\n"), re.compile(r"(?<=[.!?])\s+"), re.compile(r"\n"), re.compile(r" +"))


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
        from core.rag.semantic import semantic_spans

        if embed is None:
            raise ValueError("the semantic chunker needs an embedding function")
        spans = semantic_spans(file.text, config.chunk_size, embed)
    else:
        from core.rag.code_chunks import code_spans

        spans = code_spans(file.path, file.text, config.chunk_size, config.chunk_overlap)
    spans = [span for span in (_trim(file.text, *span) for span in spans) if span[0] < span[1]]
    headers = None
    if config.contextual_headers and file.path.endswith((".py", ".pyi")):
        from core.rag.code_chunks import python_headers

        headers = python_headers(file.text, spans)
    return spans_to_chunks(file, spans, headers)


def spans_to_chunks(file: SourceFile, spans: Sequence[Span], headers: Optional[Sequence[str]] = None) -> list[Chunk]:
    line_starts = [0] + [m.end() for m in re.finditer("\n", file.text)]
    chunks = []
    for number, (start, end) in enumerate(spans):
        start, end = _trim(file.text, start, end)
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


def fixed_spans(text: str, size: int, overlap: int, offset: int = 0) -> list[Span]:
    step = size - overlap
    return [(offset + start, offset + min(start + size, len(text)))
            for start in range(0, max(len(text) - overlap, 1), step)]


def recursive_spans(text: str, size: int, overlap: int) -> list[Span]:
    """Natural boundaries first: pieces no longer than `size`, merged greedily up to `size`."""
    return merge_pieces(split_pieces(text, 0, len(text), size), size, overlap)


def split_pieces(text: str, start: int, end: int, size: int, level: int = 0) -> list[Span]:
    """Cut [start, end) at the coarsest boundary that yields pieces of at most `size`."""
    if end - start <= size:
        return [(start, end)]
    if level == len(_LEVELS):
        return fixed_spans(text[start:end], size, 0, offset=start)
    cuts = [m.end() for m in _LEVELS[level].finditer(text, start, end)]
    bounds = [start] + [c for c in cuts if start < c < end] + [end]
    pieces: list[Span] = []
    for a, b in zip(bounds, bounds[1:]):
        pieces.extend(split_pieces(text, a, b, size, level + 1))
    return pieces


def merge_pieces(pieces: Sequence[Span], size: int, overlap: int) -> list[Span]:
    """Adjacent pieces joined while they fit; a new chunk repeats up to `overlap` trailing characters
    of whole pieces, so context carries over without cutting words."""
    chunks: list[Span] = []
    current: list[Span] = []
    for piece in pieces:
        if current and piece[1] - current[0][0] > size:
            chunks.append((current[0][0], current[-1][1]))
            current = [p for p in current if current[-1][1] - p[0] <= overlap and piece[1] - p[0] <= size]
        current.append(piece)
    if current:
        chunks.append((current[0][0], current[-1][1]))
    return chunks


def _trim(text: str, start: int, end: int) -> Span:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
