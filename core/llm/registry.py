"""Every kind of backend a system spec can name, described once.

The spec grammar checks options against this table, the composition root
(`core.systems`) builds from it, the Playground offers its presets, the ragas
adapter picks its provider, reports print its label, and the dashboard finds
which secret to send. Reading it imports no SDK and no torch: each backend's
class is named, and imported only when a system is built.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Optional

from core.errors import InvalidInputError
from core.llm.defaults import DEFAULT_MODEL as SMOLLM2, DEVICE_CHOICES, DTYPE_CHOICES
from core.settings import ENV_PREFIX, get_settings

SEARCH_MODES = ("hybrid", "dense", "bm25")  # hybrid (reciprocal rank fusion) first: the default


@dataclass(frozen=True)
class OptionInfo:
    name: str
    help: str
    type: type = str
    choices: tuple[str, ...] = ()
    minimum: float = 0  # for numbers


@dataclass(frozen=True)
class BackendInfo:
    name: str  # as a spec spells it
    label: str  # as reports and pages name it
    implementation: str  # "module:Class"; the class has `from_spec(spec, key)`
    options: tuple[OptionInfo, ...]
    presets: tuple[str, ...]  # specs that work as written (given a key), offered by name
    forms: tuple[str, ...]  # templates shown as valid forms beside the presets
    default_model: Optional[str] = None  # None: a spec must name its model
    key_setting: Optional[str] = None  # the `Settings` field naming the key's environment variable
    official_url: Optional[str] = None  # the only address the key from `key_setting` may go to
    ragas_provider: Optional[str] = None  # the provider ragas's `llm_factory` takes for this API
    runs_locally: bool = False  # weights on this machine: routed to this process or the model server

    def option(self, name: str) -> Optional[OptionInfo]:
        return next((option for option in self.options if option.name == name), None)

    def load_class(self) -> type:
        module, _, name = self.implementation.partition(":")
        return getattr(importlib.import_module(module), name)


# Retrieval options apply to any backend: the knowledge base, how many chunks, which search.
RETRIEVAL_OPTIONS = (
    OptionInfo("kb", "answer from this knowledge base (RAG)"),
    OptionInfo("k", "how many chunks to retrieve", int, minimum=1),
    OptionInfo("mode", "how to search the knowledge base", choices=SEARCH_MODES),
)
_API_OPTIONS = (
    OptionInfo("base_url", "another server speaking the same API (a proxy, a self-hosted model)"),
    OptionInfo("key_env", "the environment variable (or dashboard secret) holding the key for base_url's server"),
    OptionInfo("max_retries", "retries of a 429 or 5xx answer", int),
    OptionInfo("timeout", "seconds to wait for one answer", float),
)
BACKENDS: dict[str, BackendInfo] = {info.name: info for info in (
    BackendInfo(
        "local", "Local model", "core.llm.local:LocalBackend",
        options=(OptionInfo("adapter", "a registered LoRA adapter's name, or an adapter folder"),
                 OptionInfo("dtype", "the weights' number format", choices=DTYPE_CHOICES),
                 OptionInfo("device", "where the model computes", choices=DEVICE_CHOICES),
                 OptionInfo("batch_size", "prompts generated at once", int, minimum=1)),
        presets=("local", "local?dtype=float32"),
        forms=("local:PATH_OR_HUB_ID", "local?adapter=NAME",
               "local:smollm2?adapter=models/adapters/NAME&dtype=bfloat16"),
        default_model=SMOLLM2, runs_locally=True),
    BackendInfo(
        "anthropic", "Claude", "core.llm.anthropic_backend:AnthropicBackend", options=_API_OPTIONS,
        presets=("anthropic:claude-sonnet-4-5", "anthropic:claude-haiku-4-5"),
        forms=("anthropic:MODEL?base_url=URL&key_env=VARIABLE",),
        default_model="claude-sonnet-4-5", key_setting="anthropic_key_env",
        official_url="https://api.anthropic.com", ragas_provider="anthropic"),
    BackendInfo(
        "openai", "OpenAI-compatible", "core.llm.openai_compatible:OpenAICompatibleBackend", options=_API_OPTIONS,
        presets=("openai:gpt-4.1-mini",),
        forms=("openai:MODEL?base_url=http://127.0.0.1:8000/v1",),
        key_setting="openai_key_env", official_url="https://api.openai.com/v1", ragas_provider="openai"),
)}


def key_env_for(backend: str, options: dict[str, str]) -> Optional[str]:
    """The environment variable (or dashboard secret) whose key may go where these options point.

    A service's own key goes only to the service's own address. A `base_url` elsewhere gets a key
    only from the variable its `key_env` option names, and only from a variable the operator listed
    in `RAGTUNE_KEY_ENVS`: a spec typed in a browser cannot send a key to a host of its choosing."""
    info = BACKENDS[backend]
    if "key_env" in options:
        return _allowed_key_env(options["key_env"])
    if info.key_setting is None:
        return None
    base_url = options.get("base_url")
    if base_url and base_url.rstrip("/") != info.official_url:
        return None
    return getattr(get_settings(), info.key_setting)


def _allowed_key_env(name: str) -> str:
    allowed = get_settings().key_envs
    if name not in allowed:
        raise InvalidInputError(
            f"key_env={name!r} is not a key this lab may send: the operator lists the variables a server's key may "
            f"come from in {ENV_PREFIX}KEY_ENVS (now: {', '.join(allowed) or 'none'}).")
    return name
