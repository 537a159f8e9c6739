"""Widgets and guards every page uses."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Optional

import streamlit as st

from core.errors import LabError
from core.settings import get_settings
from core.store import Database, current_database


def database() -> Optional[Database]:
    """The migrated database, or None after showing why it cannot be used."""
    try:
        return current_database()
    except LabError as exc:
        st.error(str(exc))
        return None


@contextmanager
def reported_errors() -> Iterator[None]:
    """Show a `LabError` as a message in place, instead of a traceback."""
    try:
        yield
    except LabError as exc:
        st.error(str(exc))


def sidebar() -> None:
    settings = get_settings()
    with st.sidebar:
        st.caption(f"Data: `{settings.data_dir}`")
        try:
            db = current_database()
            st.caption(f"Database: `{db.location}`")
        except LabError as exc:
            st.caption(f":red[Database unavailable:] {exc}")
