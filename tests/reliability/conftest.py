"""Fixtures the reliability tests share."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def notes(tmp_path) -> Path:
    """A two-file knowledge base source, small enough to index in a moment."""
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "refunds.md").write_text("# Refunds\n\nRefunds reach the payment card within five business days.\n")
    (folder / "support.md").write_text("# Support\n\nSupport answers every ticket within one working day.\n")
    return folder
