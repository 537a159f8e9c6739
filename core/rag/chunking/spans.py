"""Character spans over a file's text and the cuts every chunker shares: fixed windows, natural
boundaries (paragraphs, sentences, lines, words), greedy merging. The bottom of `chunking`: it
imports nothing of its siblings."""

from __future__ import annotations

import re
from typing import Callable, Sequence

import numpy as np

Span = tuple[int, int]
Embed = Callable[[list[str]], np.ndarray]
# Paragraphs, then sentence ends, then single newlines, then spaces.
_LEVELS = (re.compile(r"\n\s*\n"), re.compile(r"(?<=[.!?])\s+"), re.compile(r"\n"), re.compile(r" +"))


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


def trim(text: str, start: int, end: int) -> Span:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
