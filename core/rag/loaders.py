"""Turn a folder (uploads are saved to one first) or a git revision into plain text per file.

Every file either becomes a `SourceFile` or a `Skipped` entry with a reason a
person can act on (too big, binary, not UTF-8, unreadable, a link out of the
folder), so the UI and the CLI can say exactly what was left out of a knowledge
base. Hidden files and folders (`.git`, `.env`, `.ssh`) are never read: they
hold tooling state and secrets, not a team's knowledge; git itself reads `.git`.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from core.errors import InvalidInputError
from core.git import commit_id, run_git, top_level
from core.paths import is_hidden

# Folders that hold dependencies or caches, never a team's own knowledge (hidden ones are skipped anyway).
IGNORED_DIRS = {"__pycache__", "node_modules", "venv"}
HTML_SUFFIXES = {".html", ".htm"}


class SkipFile(Exception):
    """Raised while reading one file: the message is the reason it is skipped."""


@dataclass(frozen=True)
class SourceFile:
    path: str  # relative to the source root, with '/' separators
    text: str

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


@dataclass
class LoadResult:
    files: list[SourceFile] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    def add(self, path: str, read, max_bytes: int) -> None:
        """Read one file through `read()` (bytes), recording it or why it was skipped."""
        try:
            self.files.append(SourceFile(path, extract_text(path, read(), max_bytes)))
        except SkipFile as exc:
            self.skipped.append(Skipped(path, str(exc)))

    def require_files(self, where: str) -> "LoadResult":
        if not self.files:
            reasons = "; ".join(f"{s.path}: {s.reason}" for s in self.skipped[:5])
            raise InvalidInputError(
                f"No readable text files in {where}" + (f" (skipped {reasons})" if reasons else "")
                + ". Add text, markdown, HTML, PDF or source files, or pick another folder."
            )
        return self


def extract_text(path: str, data: bytes, max_bytes: int) -> str:
    """The text of a file's bytes, or `SkipFile` with the reason it has none usable."""
    if len(data) > max_bytes:
        raise SkipFile(too_big(len(data), max_bytes))
    suffix = Path(path).suffix.lower()
    if suffix == ".pdf":
        return _pdf_text(data)
    if b"\0" in data[:8192]:
        raise SkipFile("binary file (contains NUL bytes)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SkipFile(f"not UTF-8 text (invalid byte at offset {exc.start}); re-save it as UTF-8") from exc
    if suffix in HTML_SUFFIXES:
        text = _html_text(text)
    if not text.strip():
        raise SkipFile("no text in it")
    return text


def too_big(size: int, max_bytes: int) -> str:
    return f"{human_size(size)}, over the {human_size(max_bytes)} limit per file"


def human_size(size: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{int(size)} bytes"


def load_folder(root: Path, max_bytes: int) -> LoadResult:
    """Every visible file under `root` (or `root` itself if it is a file), skipping tooling folders.
    A symbolic link is read only if it resolves to a file inside `root`."""
    result = LoadResult()
    root = root.resolve()
    base = root.parent if root.is_file() else root
    for path in [root] if root.is_file() else _walk(root):
        relative = path.relative_to(base).as_posix()
        link_problem = _link_problem(path.resolve(), root)
        if link_problem:
            result.skipped.append(Skipped(relative, link_problem))
            continue
        try:
            size = path.stat().st_size
        except OSError as exc:
            result.skipped.append(Skipped(relative, f"cannot be read: {exc.strerror or exc}"))
            continue
        if size > max_bytes:  # checked before reading so a huge file costs nothing
            result.skipped.append(Skipped(relative, too_big(size, max_bytes)))
            continue
        result.add(relative, lambda: _read_bytes(path), max_bytes)
    return result.require_files(str(root))


def load_git(repo: Path, rev: str, max_bytes: int) -> LoadResult:
    """The files tracked at revision `rev` of the repository containing `repo`."""
    top = top_level(repo)
    result = LoadResult()
    listing = run_git(top, "ls-tree", "-r", "-l", "-z", "--full-tree", commit_id(top, rev))
    for entry in filter(None, listing.split(b"\0")):
        meta, raw_path = entry.split(b"\t", 1)
        _mode, kind, blob, size = meta.split()
        path = raw_path.decode("utf-8", errors="replace")
        if kind != b"blob" or any(is_hidden(part) for part in path.split("/")):
            continue  # submodules (another repository's files), and hidden files as in a folder
        if int(size) > max_bytes:
            result.skipped.append(Skipped(path, too_big(int(size), max_bytes)))
            continue
        result.add(path, lambda blob=blob: run_git(top, "cat-file", "blob", blob.decode()), max_bytes)
    return result.require_files(f"{top} at {rev}")


def _walk(root: Path) -> Iterable[Path]:
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in IGNORED_DIRS and not is_hidden(d))
        for name in sorted(name for name in files if not is_hidden(name)):
            yield Path(folder) / name


def _link_problem(target: Path, root: Path) -> str:
    """Why a file that resolves to `target` is not read from `root`; "" when it is read."""
    if target == root:
        return ""
    if not target.is_relative_to(root):
        return "a link to a file outside the folder: not read"
    if any(is_hidden(part) for part in target.relative_to(root).parts):
        return "a link to a hidden file: not read"
    return ""


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SkipFile(f"cannot be read: {exc.strerror or exc}") from exc


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        pages = PdfReader(io.BytesIO(data)).pages
        text = "\n\n".join(page.extract_text() or "" for page in pages)
    except (PdfReadError, ValueError, KeyError) as exc:
        raise SkipFile(f"not a readable PDF ({exc})") from exc
    if not text.strip():
        raise SkipFile("PDF without extractable text (scanned?); run OCR on it first")
    return text


def _html_text(html: str) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "noscript"]):
        tag.decompose()
    return soup.get_text("\n", strip=True)
