"""Helpers shared by the dataset tests."""

from __future__ import annotations

from pathlib import Path

from tests.rag.rag_fixtures import git


def commit(repo: Path, path: str, text: str, message: str) -> None:
    """Write `text` to `path` in `repo` and commit it with `message`."""
    (repo / path).write_text(text)
    git(repo, "add", path)
    git(repo, "commit", "-q", "-m", message)
