"""Importing transformers (or a package built on it) from several threads at once.

transformers' packages replace themselves in `sys.modules` with lazy modules while they first import;
a thread that imports one meanwhile is handed the half-made original and fails with "cannot import
name 'AutoTokenizer' from 'transformers'" (two Streamlit sessions opening the Fine-tune page of a
freshly started app did). Code that can run in a page's thread imports them inside `first_imports()`.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

_LOCK = threading.RLock()


@contextmanager
def first_imports() -> Iterator[None]:
    with _LOCK:
        yield
