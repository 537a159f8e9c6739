"""System specs: the one string that names a system to ask, parsed in one place.

Grammar: `BACKEND[:MODEL][?key=value&...]`, for example

    local                                     SmolLM2, the default model
    local:models/my-model                     a local Hugging Face folder (or a hub id already cached)
    local?adapter=support-v1                  SmolLM2 with a registered (fine-tuned) LoRA adapter
    local:smollm2?adapter=models/adapters/x&dtype=bfloat16   an adapter folder
    anthropic:claude-sonnet-4-5
    openai:llama3:8b?base_url=http://127.0.0.1:11434/v1
    local?kb=docs&k=4&mode=hybrid             SmolLM2 answering from the knowledge base "docs" (RAG)

The model is everything between the first ':' and '?', so Ollama's
`name:tag` models work. `kb=NAME` (any backend) makes the system answer from
that knowledge base, with `k` chunks found by `mode` (hybrid, dense or bm25);
`core.systems.build_system` wires the retrieval in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional
from urllib.parse import parse_qsl, urlencode

from core.errors import InvalidInputError
from core.llm.defaults import DEFAULT_MODEL as LOCAL_DEFAULT, DEVICE_CHOICES, DTYPE_CHOICES

FORMS = (
    "local",
    "local:PATH_OR_HUB_ID",
    "local:smollm2?adapter=models/adapters/NAME&dtype=bfloat16",
    "anthropic:claude-sonnet-4-5",
    "openai:MODEL?base_url=http://127.0.0.1:8000/v1",
    "local?kb=NAME&k=4&mode=hybrid",
    "local?adapter=NAME",
)
# Retrieval options apply to any backend: the knowledge base, how many chunks, which search.
RETRIEVAL_OPTIONS = {"kb", "k", "mode"}
SEARCH_MODES = ("hybrid", "dense", "bm25")  # hybrid (reciprocal rank fusion) first: the default
_REMOTE_OPTIONS = {"base_url", "max_retries", "timeout"}
OPTIONS = {
    "local": {"adapter", "dtype", "device", "batch_size"} | RETRIEVAL_OPTIONS,
    "anthropic": _REMOTE_OPTIONS | RETRIEVAL_OPTIONS,
    "openai": _REMOTE_OPTIONS | RETRIEVAL_OPTIONS,
}
NUMBER_OPTIONS = {"max_retries": int, "batch_size": int, "timeout": float, "k": int}
AT_LEAST_ONE = {"batch_size", "k"}
CHOICE_OPTIONS = {"dtype": DTYPE_CHOICES, "device": DEVICE_CHOICES, "mode": SEARCH_MODES}


@dataclass(frozen=True)
class SystemSpec:
    backend: str
    model: str
    options: dict[str, str] = field(default_factory=dict, hash=False, compare=True)  # the backend's
    kb: Optional[str] = None
    retrieval: dict[str, str] = field(default_factory=dict, hash=False, compare=True)  # k, mode

    @property
    def text(self) -> str:
        """The canonical spec string; `parse_spec(spec.text) == spec`."""
        options = {**self.options, **self.retrieval, **({"kb": self.kb} if self.kb else {})}
        query = urlencode(sorted(options.items()), safe="/:.~")
        return f"{self.backend}:{self.model}" + (f"?{query}" if query else "")

    @property
    def typed_options(self) -> dict:
        """The backend's options as the types its constructor takes."""
        return {key: NUMBER_OPTIONS.get(key, str)(value) for key, value in self.options.items()}

    @property
    def model_only(self) -> "SystemSpec":
        """The same model without its knowledge base: what a RAG system wraps."""
        return SystemSpec(self.backend, self.model, dict(self.options))

    def __str__(self) -> str:
        return self.text


def parse_spec(text: str) -> SystemSpec:
    raw = (text or "").strip()
    head, _, query = raw.partition("?")
    backend, _, model = head.partition(":")
    backend = backend.strip().lower()
    if backend not in OPTIONS:
        _invalid(f"Unknown backend {backend or '(empty)'!r} in system spec {raw!r}")
    model = model.strip() or _default_model(backend, raw)
    options = _parse_options(backend, query, raw)
    kb = options.pop("kb", None)
    retrieval = {key: options.pop(key) for key in ("k", "mode") if key in options}
    if retrieval and not kb:
        _invalid(f"{', '.join(retrieval)} in system spec {raw!r} only apply with kb=NAME")
    return SystemSpec(backend=backend, model=model, options=options, kb=kb, retrieval=retrieval)


def _default_model(backend: str, raw: str) -> str:
    if backend == "local":
        return LOCAL_DEFAULT
    if backend == "anthropic":
        from core.llm.anthropic_backend import DEFAULT_MODEL

        return DEFAULT_MODEL
    _invalid(f"System spec {raw!r} names no model: an OpenAI-compatible server needs one")


def _parse_options(backend: str, query: str, raw: str) -> dict[str, str]:
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        _invalid(f"Options {query!r} in system spec {raw!r} are not key=value pairs joined by '&'")
    options: dict[str, str] = {}
    for key, value in pairs:
        if key not in OPTIONS[backend]:
            _invalid(f"Unknown option {key!r} for {backend} (known: {', '.join(sorted(OPTIONS[backend]))})")
        if not value:
            _invalid(f"Option {key!r} in system spec {raw!r} has no value")
        _check_value(key, value)
        options[key] = value
    return options


def _check_value(key: str, value: str) -> None:
    if key in CHOICE_OPTIONS and value not in CHOICE_OPTIONS[key]:
        _invalid(f"{key}={value!r} is not one of {', '.join(CHOICE_OPTIONS[key])}")
    if key in NUMBER_OPTIONS:
        try:
            number = NUMBER_OPTIONS[key](value)
        except ValueError:
            number = -1
        if number < 0 or (key in AT_LEAST_ONE and number < 1):
            _invalid(f"{key}={value!r} must be a positive number")


def _invalid(problem: str):
    raise InvalidInputError(f"{problem}. Valid forms: " + "; ".join(f"`{form}`" for form in FORMS) + ".")
