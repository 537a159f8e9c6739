"""Systems under test: a backend, plus (later) the knowledge base it retrieves from.

This is the one place a parsed spec becomes something to ask, for the CLI, the
Playground and evaluation alike. A spec's `kb=` is refused until the RAG
capability wires retrieval in here (wrapping the backend `build_backend` returns).
"""

from __future__ import annotations

from typing import Optional

from core.errors import InvalidInputError
from core.llm.base import Backend
from core.llm.spec import SystemSpec, build_backend


def build_system(spec: SystemSpec, key: Optional[str] = None) -> Backend:
    if spec.kb:
        raise InvalidInputError(
            f"{spec.text}: systems with a knowledge base (kb={spec.kb}) are not available yet; "
            "drop `kb=` to ask the model alone.")
    return build_backend(spec, key=key)
