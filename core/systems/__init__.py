"""Systems under test: a model, alone or answering from a knowledge base.

The composition root: the one place a parsed spec becomes something to ask, for
the CLI, the Playground, evaluation and the model server's callers alike. The
spec grammar (`core.llm.spec`) stays pure; here a local spec is routed to this
process or the model server, a remote one gets its client, and a spec with
`kb=NAME` wraps its model in a `RagSystem` over that knowledge base's live index.
"""

from __future__ import annotations

from typing import Callable, Optional

from core.llm.base import Backend
from core.llm.registry import BACKENDS
from core.llm.spec import SystemSpec
from core.store import current_database

ModelFactory = Callable[[SystemSpec], Backend]


def build_system(spec: SystemSpec, key: Optional[str] = None,
                 build_model: Optional[ModelFactory] = None) -> Backend:
    """The system `spec` names. `key` overrides the API key from the environment;
    `build_model` replaces how the model itself is built."""
    build = build_model or (lambda s: build_backend(s, key=key))
    if not spec.kb:
        return build(spec.model_only)
    from core.rag.knowledge import open_retriever  # loads Chroma: only for RAG systems
    from core.rag.system import RagSystem

    retriever = open_retriever(current_database(), spec.kb)  # first: a typo must not wait for a model load
    return RagSystem(build(spec.model_only), retriever, **_retrieval_settings(spec))


def _retrieval_settings(spec: SystemSpec) -> dict:
    settings = {}
    if "k" in spec.retrieval:
        settings["k"] = int(spec.retrieval["k"])
    if "mode" in spec.retrieval:
        settings["mode"] = spec.retrieval["mode"]
    return settings


def build_backend(spec: SystemSpec, key: Optional[str] = None) -> Backend:
    """The model `spec` names, without retrieval. `key` replaces the environment's value of the
    variable `core.llm.registry.key_env_for` allows (the dashboard passes its secret); local
    models ignore it."""
    info = BACKENDS[spec.backend]
    if info.runs_locally:
        from core.serving.routing import local_backend  # in this process, or through the model server

        return local_backend(spec)
    return info.load_class().from_spec(spec, key)
