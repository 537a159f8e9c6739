"""Semantic chunking: cut where the topic changes, not where a counter runs out.

Sentences are embedded; a new chunk starts where the cosine similarity of two
neighbouring sentences falls into the lowest quarter of the file's similarities
(a relative threshold, so it adapts to dense and to loose writing), or when the
chunk would outgrow `chunk_size`.
"""

from __future__ import annotations

import re

import numpy as np

from core.rag.chunking.spans import Embed, Span, split_pieces

BREAK_PERCENTILE = 25
_SENTENCE_END = re.compile(r"\n\s*\n|(?<=[.!?])\s+")


def semantic_spans(text: str, size: int, embed: Embed) -> list[Span]:
    sentences = [s for s in _sentences(text, size) if text[s[0]:s[1]].strip()]
    if len(sentences) < 3:
        return sentences
    vectors = embed([text[a:b] for a, b in sentences])
    similarity = np.sum(vectors[:-1] * vectors[1:], axis=1)  # vectors are unit length
    threshold = np.percentile(similarity, BREAK_PERCENTILE)
    chunks: list[Span] = []
    start, end = sentences[0]
    for (a, b), sim in zip(sentences[1:], similarity):
        if sim <= threshold or b - start > size:
            chunks.append((start, end))
            start = a
        end = b
    chunks.append((start, end))
    return chunks


def _sentences(text: str, size: int) -> list[Span]:
    """Sentence-sized pieces (paragraph and sentence ends), none longer than `size`."""
    bounds = [0] + [m.end() for m in _SENTENCE_END.finditer(text)] + [len(text)]
    pieces: list[Span] = []
    for start, end in zip(bounds, bounds[1:]):
        if end > start:
            pieces.extend(split_pieces(text, start, end, size))
    return _join_short(pieces, size)


def _join_short(pieces: list[Span], size: int, minimum: int = 20) -> list[Span]:
    """Fragments shorter than `minimum` characters (headings, bullets) join the next piece."""
    joined: list[Span] = []
    pending = None
    for start, end in pieces:
        begin = pending if pending is not None else start
        if end - begin < minimum and end - begin < size:
            pending = begin
            continue
        joined.append((begin, end))
        pending = None
    if pending is not None:
        joined.append((pending, pieces[-1][1]))
    return joined
