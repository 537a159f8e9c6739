"""Where a local model generates: in this process, or in the model server.

The one place that decides, from `RAGTUNE_MODEL_SERVER`:
- `on` (the dashboard): always through the server, started on demand and
  restarted if it died;
- `auto` (the default: the CLI, tests): through the server when one runs for
  this data dir, else in this process;
- `off` (job workers, the server itself): always in this process.
"""

from __future__ import annotations

from core.errors import InvalidInputError
from core.llm.base import Backend
from core.llm.spec import SystemSpec
from core.settings import get_settings

MODES = ("auto", "on", "off")


def model_server_mode() -> str:
    mode = get_settings().model_server
    if mode not in MODES:
        raise InvalidInputError(f"RAGTUNE_MODEL_SERVER={mode!r} is not one of {', '.join(MODES)}.")
    return mode


def local_backend(spec: SystemSpec) -> Backend:
    """The local model `spec` names, generating where the mode says."""
    from core.llm.local import LocalBackend
    from core.serving.lifecycle import ensure_server, running_server

    mode = model_server_mode()
    record = None if mode == "off" else ensure_server() if mode == "on" else running_server()
    if record is None:
        return LocalBackend.from_spec(spec)
    from core.serving.client import ServerBackend

    return ServerBackend(record.url, spec, reconnect=(lambda: ensure_server().url) if mode == "on" else None)


def release_local_models() -> list[str]:
    """Hand back the memory local models hold, in this process and in the model
    server (before a GPU training job); returns the specs the server released."""
    from core.llm.loading import release_models
    from core.serving.lifecycle import release_server_models

    release_models()
    return release_server_models()
