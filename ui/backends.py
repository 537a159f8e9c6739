"""Backends for the dashboard: API keys from st.secrets (falling back to the
environment). Local models generate in the model server (app.py turns it on),
never in a Streamlit script thread.

Keys go straight into the SDK client: they are never part of a system spec,
so they never reach the database, the history or a log line.
"""

from __future__ import annotations

from typing import Optional

import streamlit as st

from core.llm.base import Backend
from core.llm.registry import key_env_for
from core.llm.spec import SystemSpec
from core.systems import build_system


def secret(name: str) -> Optional[str]:
    """`st.secrets[name]`, or None when there is no such secret (or no secrets file)."""
    try:
        value = st.secrets.get(name)
    except (FileNotFoundError, KeyError, ValueError):
        return None
    return str(value) if value else None


def system_backend(spec: SystemSpec) -> Backend:
    key_env = key_env_for(spec.backend, spec.options)
    return build_system(spec, key=secret(key_env) if key_env else None)
