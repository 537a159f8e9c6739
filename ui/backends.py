"""Backends for the dashboard: local models loaded once per server process,
API keys from st.secrets (falling back to the environment).

Keys go straight into the SDK client: they are never part of a system spec,
so they never reach the database, the history or a log line.
"""

from __future__ import annotations

from typing import Optional

import streamlit as st

from core.llm.base import Backend
from core.llm.spec import SystemSpec, build_backend, parse_spec
from core.settings import get_settings
from core.systems import build_system


@st.cache_resource(show_spinner=False, max_entries=4)
def _local_model(spec_text: str) -> Backend:
    return build_backend(parse_spec(spec_text))


def secret(name: str) -> Optional[str]:
    """`st.secrets[name]`, or None when there is no such secret (or no secrets file)."""
    try:
        value = st.secrets.get(name)
    except (FileNotFoundError, KeyError, ValueError):
        return None
    return str(value) if value else None


def system_backend(spec: SystemSpec) -> Backend:
    """The system, its local model loaded once per server process (a RAG system
    wraps the cached model; its retriever is cached per index generation in core)."""
    if spec.backend == "local":
        return build_system(spec, build_model=lambda model: _local_model(model.text))
    settings = get_settings()
    key_env = settings.anthropic_key_env if spec.backend == "anthropic" else settings.openai_key_env
    return build_system(spec, key=secret(key_env))


def release_dashboard_models() -> None:
    """Drop the models this server keeps for the Playground; `submit_training`
    then hands their GPU memory back (`core.llm.loading.release_models`)."""
    _local_model.clear()
