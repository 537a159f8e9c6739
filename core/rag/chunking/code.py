"""Code-aware chunking: a chunk is a function or a class, not an arbitrary window.

Python is parsed with `ast` so each top-level function or class (with its
decorators) starts a chunk; a class too big for one chunk is split at its
methods. Other languages and markdown go through LangChain's maintained
language-aware splitter; prose and unknown formats fall back to recursive
splitting. Files that do not parse are chunked recursively rather than lost.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from core.rag.chunking.spans import Span, merge_pieces, recursive_spans, split_pieces

_LANGUAGES = {
    ".js": "js", ".jsx": "js", ".mjs": "js", ".ts": "ts", ".tsx": "ts", ".java": "java", ".go": "go",
    ".rs": "rust", ".rb": "ruby", ".php": "php", ".c": "c", ".h": "c", ".cc": "cpp", ".cpp": "cpp",
    ".hpp": "cpp", ".cs": "csharp", ".kt": "kotlin", ".scala": "scala", ".swift": "swift",
    ".lua": "lua", ".r": "r", ".md": "markdown", ".markdown": "markdown", ".rst": "rst",
    ".tex": "latex", ".proto": "proto", ".sol": "solidity", ".hs": "haskell", ".ex": "elixir",
    ".ps1": "powershell", ".pl": "perl",
}


def code_spans(path: str, text: str, size: int, overlap: int) -> list[Span]:
    suffix = Path(path).suffix.lower()
    if suffix in (".py", ".pyi"):
        try:
            return python_spans(text, size)
        except (SyntaxError, ValueError):
            return recursive_spans(text, size, overlap)
    if suffix in _LANGUAGES:
        return language_spans(_LANGUAGES[suffix], text, size, overlap)
    return recursive_spans(text, size, overlap)


def python_spans(text: str, size: int) -> list[Span]:
    """Module code between definitions is grouped; each definition is its own unit."""
    tree = ast.parse(text)
    offsets = _line_offsets(text)
    units: list[Span] = []
    for node in tree.body:
        units.extend(_node_units(node, text, offsets, size))
    spans = _cover_gaps(units, len(text))
    return merge_pieces(_bounded(text, spans, size), size, 0)


def python_headers(text: str, spans: list[Span]) -> list[str]:
    """For each span, the classes and functions it lies inside whose `def` / `class` line it does not
    show, e.g. "class Lexer > def tokeniter(self, source, name, filename=None, state=None)": what a piece
    of a long method needs for a question to find it. Empty for code that does not parse."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return [""] * len(spans)
    offsets = _line_offsets(text)
    definitions = [(offsets[node.lineno - 1], _end_offset(node, text, offsets), _signature(node, text, offsets))
                   for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    definitions.sort()
    return [" > ".join(signature for begin, finish, signature in definitions
                       if begin < start and finish >= end) for start, end in spans]


def _signature(node: ast.stmt, text: str, offsets: list[int]) -> str:
    """The definition's first line(s) up to its colon, on one line."""
    body_start = offsets[node.body[0].lineno - 1] if node.body else _end_offset(node, text, offsets)
    head = text[offsets[node.lineno - 1]:body_start].split(":\n")[0]
    return " ".join(head.split()).rstrip(":")


def language_spans(language: str, text: str, size: int, overlap: int) -> list[Span]:
    from langchain_text_splitters import Language, RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter.from_language(
        Language(language), chunk_size=size, chunk_overlap=overlap, add_start_index=True)
    spans = []
    for doc in splitter.create_documents([text]):
        start = doc.metadata["start_index"]
        if start >= 0:  # -1: LangChain could not locate the chunk (text changed by stripping)
            spans.append((start, start + len(doc.page_content)))
    return spans


def _node_units(node: ast.stmt, text: str, offsets: list[int], size: int) -> list[Span]:
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    span = (offsets[first - 1], _end_offset(node, text, offsets))
    if isinstance(node, ast.ClassDef) and span[1] - span[0] > size and node.body:
        # Split a big class at its methods: the header and class attributes stay in the first unit.
        members = [m for m in node.body if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
        cuts = [offsets[min([m.lineno] + [d.lineno for d in m.decorator_list]) - 1] for m in members]
        bounds = [span[0]] + [c for c in cuts if c > span[0]] + [span[1]]
        return list(zip(bounds, bounds[1:]))
    return [span]


def _end_offset(node: ast.stmt, text: str, offsets: list[int]) -> int:
    end_line = node.end_lineno or node.lineno
    return offsets[end_line] if end_line < len(offsets) else len(text)


def _cover_gaps(units: list[Span], length: int) -> list[Span]:
    """Units plus the text between them (imports, constants, comments), in file order."""
    spans, position = [], 0
    for start, end in units:
        if start > position:
            spans.append((position, start))
        spans.append((start, end))
        position = max(position, end)
    if position < length:
        spans.append((position, length))
    return spans


def _bounded(text: str, spans: list[Span], size: int) -> list[Span]:
    """A unit still over `size` (a long function) is cut at blank lines, then lines."""
    pieces: list[Span] = []
    for start, end in spans:
        pieces.extend(split_pieces(text, start, end, size) if end - start > size else [(start, end)])
    return pieces


def _line_offsets(text: str) -> list[int]:
    """offsets[i] is where line i+1 starts; one extra entry for the end of the last line."""
    return [0] + [m.end() for m in re.finditer("\n", text)]
