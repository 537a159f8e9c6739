"""Running git for the lab: one command, its output, and a message a person can act on.

Indexing a repository and building a dataset from its history both read a
repository at a revision; a missing git, a folder that is no repository, an
unknown revision or a command that hangs each become an `InvalidInputError`.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from core.errors import InvalidInputError

GIT_TIMEOUT_S = 120


def run_git(cwd: Path, *args: str, what: str = "", timeout_s: float = GIT_TIMEOUT_S) -> bytes:
    """`git -C cwd ARGS...`'s output. `what` names what a failure means is missing
    (e.g. "revision 'v2'"): then any failure is reported as that."""
    try:
        done = subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, timeout=timeout_s)
    except FileNotFoundError as exc:
        raise InvalidInputError("git is not installed: install git (e.g. `apt-get install git`), "
                                "or use a plain folder instead of a repository.") from exc
    except subprocess.TimeoutExpired as exc:
        raise InvalidInputError(f"git {args[0]} in {cwd} took over {timeout_s:.0f} s: "
                                "use a smaller repository, or fewer commits.") from exc
    if done.returncode == 0:
        return done.stdout
    said = done.stderr.decode(errors="replace").strip()
    if "not a git repository" in said:
        raise InvalidInputError(f"{cwd} is not a git repository: point at a folder inside a repository, "
                                "or add it as a plain folder.")
    if what:
        raise InvalidInputError(f"The repository at {cwd} has no {what}: give an existing branch, tag or commit.")
    raise InvalidInputError(f"git {args[0]} failed in {cwd}: {said or 'no message'}")


def top_level(path: Path) -> Path:
    """The root of the repository that holds `path` (a folder or a file in it)."""
    folder = path if path.is_dir() else path.parent
    return Path(run_git(folder, "rev-parse", "--show-toplevel").decode().strip())


def commit_id(top: Path, rev: str) -> str:
    """The commit `rev` names, or a message that it names none."""
    named = run_git(top, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", what=f"revision {rev!r}")
    return named.decode().strip()
