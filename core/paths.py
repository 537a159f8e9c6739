"""Which files a typed path may reach: the one rule every reader of a typed path applies.

The dashboard is shared, so a path typed in a browser (a knowledge base's folder, a file to
preview, a repository, a model or adapter folder) must lie in a folder the operator offered:
`DATA_DIR/uploads` (where the lab keeps uploaded files) or one named in `RAGTUNE_ALLOWED_ROOTS`,
with no hidden (dot) file or folder on the way. Model folders may also lie in the lab's models
dir (what it trained and merged), as they load from safetensors only.

Files and folders the operator names (the shipped demos' folders in the code, a file or folder
typed in the operator's own shell and read there) are read inside `operator_paths()`, which lifts
the rule for that call. Job workers and the model server never enter it: they serve the dashboard.
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Collection, Iterator, Optional

from core.errors import InvalidInputError, NotFoundError
from core.git import top_level
from core.settings import get_settings

ALLOWED_ROOTS_ENV = "RAGTUNE_ALLOWED_ROOTS"
MAX_NAME_BYTES = 200  # under the 255 bytes file systems allow, with room to number a duplicate
MAX_SUFFIX = 16  # a longer "suffix" is part of the name
PICKLE_SUFFIXES = {".bin", ".pt", ".pth", ".ckpt", ".pkl"}
_operator_given: ContextVar[bool] = ContextVar("operator_given", default=False)


def uploads_dir() -> Path:
    """Where the lab saves uploaded files (a folder per knowledge base)."""
    return get_settings().data_dir / "uploads"


def allowed_roots() -> list[Path]:
    """The folders typed paths may name: the uploads folder and $RAGTUNE_ALLOWED_ROOTS (os.pathsep-separated)."""
    configured = os.environ.get(ALLOWED_ROOTS_ENV, "")
    named = [Path(part).expanduser().resolve() for part in configured.split(os.pathsep) if part.strip()]
    return [uploads_dir(), *named]


def is_hidden(name: str) -> bool:
    """A dotfile or dot-folder (`.git`, `.ssh`, `.env`): never read from a folder."""
    return name.startswith(".")


@contextmanager
def operator_paths() -> Iterator[None]:
    """Within it, paths come from the operator (the code, or the operator's shell), not a browser:
    any existing path may be read. Also a decorator, for a command's `run` function."""
    token = _operator_given.set(True)
    try:
        yield
    finally:
        _operator_given.reset(token)


def readable_path(path: str | Path) -> Path:
    """`path` resolved (symlinks followed), if it exists and may be read; otherwise an error saying how
    to allow it. Inside `operator_paths()` any existing path may be read."""
    resolved = _resolved(path)
    if not _operator_given.get():
        _check_allowed(resolved, allowed_roots())
    return _existing(resolved)


def model_folder(path: str | Path) -> Path:
    """A typed model or adapter folder, resolved, if it lies in an allowed root or the lab's models dir.
    The rule holds in every process, the operator's shell too: job workers and the model server load
    these folders for the dashboard, so a folder one process accepts, every other one does."""
    resolved = _resolved(path)
    _check_allowed(resolved, [*allowed_roots(), get_settings().models_dir])
    _existing(resolved)
    if resolved.is_dir():
        require_safetensors(resolved)
    return resolved


def require_safetensors(folder: Path) -> None:
    """Refuse a model folder whose weights are pickled only (`pytorch_model.bin`, `adapter_model.bin`):
    unpickling runs code, so the lab loads safetensors and nothing else."""
    if any(folder.glob("*.safetensors")):
        return
    pickled = sorted(path.name for path in folder.iterdir() if path.suffix in PICKLE_SUFFIXES)
    if pickled:
        raise InvalidInputError(
            f"{folder} holds its weights only as {', '.join(pickled)} (pickle, which can run code when loaded): "
            "the lab loads safetensors only. Convert it on a machine you trust: load it with transformers (or "
            "peft) and save_pretrained it again, which writes model.safetensors (adapter_model.safetensors).")


def readable_repository(path: str | Path) -> Path:
    """The top folder of the git repository holding `path`, if all of it may be read (a folder
    inside an allowed root may belong to a repository that reaches outside it)."""
    return readable_path(top_level(readable_path(path)))


def upload_file_name(sent: str, taken: Collection[str]) -> str:
    """A file name for an upload that stays in its folder and replaces no file: the last part of the name
    the browser sent, without control characters (NUL) or leading dots, at most MAX_NAME_BYTES long (the
    suffix kept), and numbered (`notes-2.md`) when `taken` holds it already."""
    name = "".join(ch for ch in re.split(r"[/\\]", sent)[-1] if ch.isprintable()).strip().lstrip(".")
    name = name or "upload"
    suffix = Path(name).suffix if len(Path(name).suffix) <= MAX_SUFFIX else ""
    stem = _clip(name[:len(name) - len(suffix)], MAX_NAME_BYTES - len(suffix.encode()) - len("-99999"))
    candidate, number = stem + suffix, 1
    while candidate in taken:
        number += 1
        candidate = f"{stem}-{number}{suffix}"
    return candidate


def _clip(text: str, max_bytes: int) -> str:
    """`text` cut to at most `max_bytes` in UTF-8, never inside a character."""
    return text.encode()[:max_bytes].decode("utf-8", errors="ignore")


def _resolved(path: str | Path) -> Path:
    if not str(path).strip():
        raise InvalidInputError("No path given: name a folder or a file.")
    return Path(path).expanduser().resolve()


def _existing(resolved: Path) -> Path:
    if not resolved.exists():
        raise NotFoundError(f"{resolved} does not exist: check the path.")
    return resolved


def _check_allowed(resolved: Path, roots: list[Path]) -> None:
    root = _root_holding(resolved, roots)
    if root is None:
        raise InvalidInputError(
            f"{resolved} is outside the folders the lab may read ({', '.join(map(str, roots))}). Upload the "
            f"files, or have the operator add the folder to {ALLOWED_ROOTS_ENV} (folders separated by "
            f"'{os.pathsep}') and restart the app.")
    if any(is_hidden(part) for part in resolved.relative_to(root).parts):
        raise InvalidInputError(f"{resolved} is hidden (a name starting with '.'): the lab never reads dotfiles "
                                "or dot-folders; move the files to a visible folder.")


def _root_holding(resolved: Path, roots: list[Path]) -> Optional[Path]:
    return next((root for root in roots if resolved == root or resolved.is_relative_to(root)), None)
