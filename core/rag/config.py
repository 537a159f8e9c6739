"""What a knowledge base is built from and how: validated once, saved with the row.

The config is the contract between the UI, the CLI and the indexer: a re-index
reads it back from the store, so a knowledge base is always rebuilt the way it
was created. Names are checked here because they end up in file-system paths and
collection names; source paths by `core.paths` when they are typed.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping

from core.errors import InvalidInputError

CHUNKERS = ("code", "recursive", "fixed", "semantic")
SOURCE_KINDS = ("folder", "git", "upload")
DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"
MAX_NEIGHBOURS = 3
_KIND_NAMES = {str: "text", int: "a whole number", bool: "true or false"}
# Letters, digits, '.', '_' and '-': the name becomes a folder and part of a Chroma collection name.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")


@dataclass(frozen=True)
class KnowledgeBaseConfig:
    """How to build a knowledge base. Every field is validated in `__post_init__`."""

    source_kind: str = "folder"  # folder | git | upload
    source_path: str = ""  # the folder, the repository, or the upload folder under the data dir
    git_rev: str = "HEAD"  # the revision whose tracked files are indexed (git sources only)
    chunker: str = "code"  # code: structure-aware for source and markdown, recursive for prose
    chunk_size: int = 800  # characters; ~200 tokens, under MiniLM's 256-token window
    chunk_overlap: int = 100  # characters shared by neighbouring chunks (fixed and recursive)
    embedding_model: str = DEFAULT_EMBEDDING_MODEL  # the packaged default, or a local model folder
    bfloat16: bool = True  # where the hardware has it: ~3x faster, same vectors to 1e-3
    reranker_model: str = ""  # a local cross-encoder folder, or lm:SOURCE (e.g. lm:smollm2); empty: no rerank
    contextual_headers: bool = True  # index Python chunks with the class and def signature around them
    neighbours: int = 0  # widen each hit by this many chunks before and after it (more context per answer)
    max_file_bytes: int = 2_000_000  # larger files are skipped and reported

    def __post_init__(self) -> None:
        self._check_types()
        if self.source_kind not in SOURCE_KINDS:
            raise InvalidInputError(f"source_kind must be one of {', '.join(SOURCE_KINDS)}, not {self.source_kind!r}.")
        if self.chunker not in CHUNKERS:
            raise InvalidInputError(f"chunker must be one of {', '.join(CHUNKERS)}, not {self.chunker!r}.")
        if not 100 <= self.chunk_size <= 20_000:
            raise InvalidInputError(f"chunk_size must be between 100 and 20000 characters, not {self.chunk_size}.")
        if not 0 <= self.chunk_overlap < self.chunk_size // 2:
            raise InvalidInputError(
                f"chunk_overlap must be at least 0 and under half of chunk_size ({self.chunk_size // 2}), "
                f"not {self.chunk_overlap}."
            )
        if not 0 <= self.neighbours <= MAX_NEIGHBOURS:
            raise InvalidInputError(f"neighbours must be between 0 and {MAX_NEIGHBOURS}, not {self.neighbours}.")
        if self.max_file_bytes < 1:
            raise InvalidInputError("max_file_bytes must be positive.")
        if self.source_kind == "git" and not self.git_rev.strip():
            raise InvalidInputError("git_rev is empty: give a branch, tag or commit (e.g. HEAD).")

    def _check_types(self) -> None:
        """Each field holds the type of its default (a stored or typed config may not): the checks compare."""
        for item in fields(self):
            value, kind = getattr(self, item.name), type(item.default)
            if isinstance(value, bool) != (kind is bool) or not isinstance(value, kind):
                raise InvalidInputError(f"{item.name} must be {_KIND_NAMES[kind]}, not {value!r}.")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "KnowledgeBaseConfig":
        """The config saved in a row; unknown keys (from newer versions) are ignored."""
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})

    def index_signature(self) -> dict[str, Any]:
        """The settings that change chunks or vectors: if any differs, nothing can be reused."""
        return {key: getattr(self, key) for key in ("chunker", "chunk_size", "chunk_overlap",
                                                     "embedding_model", "bfloat16", "contextual_headers")}


def validate_name(name: str, what: str = "knowledge base", example: str = "team-docs") -> str:
    """The name of a thing kept in a folder of its own (a knowledge base, a dataset,
    an adapter), stripped, or an error saying what a valid name looks like."""
    name = (name or "").strip()
    if not name:
        raise InvalidInputError(f"The {what} needs a name, e.g. `{example}`.")
    if ".." in name or "/" in name or "\\" in name or not _NAME.fullmatch(name):
        raise InvalidInputError(
            f"{name!r} is not a valid {what} name: use 1-63 letters, digits, '.', '_' or '-', "
            f"starting with a letter or digit, without '..' or slashes (e.g. `{example}`)."
        )
    return name
