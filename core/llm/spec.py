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

import math
from dataclasses import dataclass, field
from typing import Optional
from urllib.parse import parse_qsl, urlencode

from core.errors import InvalidInputError
from core.llm.registry import BACKENDS, RETRIEVAL_OPTIONS, BackendInfo, OptionInfo

# Each backend's first preset and its forms, then retrieval, which any backend takes.
FORMS = (*(form for info in BACKENDS.values() for form in (info.presets[0], *info.forms)),
         "local?kb=NAME&k=4&mode=hybrid")


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
        info = BACKENDS[self.backend]
        return {key: info.option(key).type(value) for key, value in self.options.items()}

    @property
    def model_only(self) -> "SystemSpec":
        """The same model without its knowledge base: what a RAG system wraps."""
        return SystemSpec(self.backend, self.model, dict(self.options))

    def __str__(self) -> str:
        return self.text


def parse_spec(text: str) -> SystemSpec:
    raw = (text or "").strip()
    if raw.encode("utf-8", "replace").decode() != raw:  # a shell passes bytes that are not UTF-8 as surrogates
        _invalid(f"System spec {raw!r} holds bytes that are not UTF-8 text")
    head, _, query = raw.partition("?")
    backend, _, model = head.partition(":")
    info = BACKENDS.get(backend.strip().lower())
    if info is None:
        _invalid(f"Unknown backend {backend.strip() or '(empty)'!r} in system spec {raw!r}")
    model = model.strip() or info.default_model or _invalid(
        f"System spec {raw!r} names no model: {info.label} needs one")
    options = _parse_options(info, query, raw)
    kb = options.pop("kb", None)
    retrieval = {key: options.pop(key) for key in ("k", "mode") if key in options}
    if retrieval and not kb:
        _invalid(f"{', '.join(retrieval)} in system spec {raw!r} only apply with kb=NAME")
    return SystemSpec(backend=info.name, model=model, options=options, kb=kb, retrieval=retrieval)


def _parse_options(info: BackendInfo, query: str, raw: str) -> dict[str, str]:
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        _invalid(f"Options {query!r} in system spec {raw!r} are not key=value pairs joined by '&'")
    known = {option.name: option for option in (*info.options, *RETRIEVAL_OPTIONS)}
    options: dict[str, str] = {}
    for key, value in pairs:
        if key not in known:
            _invalid(f"Unknown option {key!r} for {info.name} (known: {', '.join(sorted(known))})")
        if not value:
            _invalid(f"Option {key!r} in system spec {raw!r} has no value")
        if key in options:
            _invalid(f"Option {key!r} is given twice in system spec {raw!r}")
        _check_value(known[key], value)
        options[key] = value
    return options


def _check_value(option: OptionInfo, value: str) -> None:
    if option.choices and value not in option.choices:
        _invalid(f"{option.name}={value!r} is not one of {', '.join(option.choices)}")
    if option.type is not str:
        try:
            number = option.type(value)
        except ValueError:
            number = -1
        if not math.isfinite(number) or number < option.minimum:
            _invalid(f"{option.name}={value!r} must be a positive number")


def _invalid(problem: str):
    raise InvalidInputError(f"{problem}. Valid forms: " + "; ".join(f"`{form}`" for form in FORMS) + ".")
