"""What the HTTP backends share: the key a spec may send, and SDK failures explained.

Both SDKs (anthropic, openai) come from the same generator and raise the same
shapes of error; turning them into one clear `BackendError` happens here, once.
"""

from __future__ import annotations

import json
import os
import time
from contextlib import contextmanager
from typing import Iterator, Optional

from core.errors import BackendError, MissingKeyError
from core.llm.registry import BACKENDS, key_env_for
from core.llm.spec import SystemSpec

DEFAULT_TIMEOUT_S = 60.0
DEFAULT_MAX_RETRIES = 2
NO_KEY = "not-needed"
KEY_HEADERS = ("x-api-key", "authorization")  # where the anthropic and openai SDKs send the key


def spec_key(spec: SystemSpec, explicit: Optional[str] = None) -> str:
    """The key to send where `spec` points: `explicit` (the dashboard's secret of the same name) or the
    environment's, from the one variable `key_env_for` allows; a placeholder where none is allowed (a
    self-hosted server that wants no key; the SDKs insist on one)."""
    env_var = key_env_for(spec.backend, spec.options)
    if env_var is None:
        return NO_KEY
    key = explicit or os.environ.get(env_var, "")
    if not key:
        service = BACKENDS[spec.backend].label
        raise MissingKeyError(
            f"No API key for {service}: set the environment variable {env_var} "
            f"(or {env_var} in .streamlit/secrets.toml for the dashboard).")
    return key


def connection_options(spec: SystemSpec) -> dict:
    """The spec's options as an SDK client takes them: `key_env` was for `spec_key` alone."""
    return {name: value for name, value in spec.typed_options.items() if name != "key_env"}


@contextmanager
def explained_errors(service: str, model: str, url: str) -> Iterator[None]:
    """Any SDK failure (after its own retries) as a `BackendError` saying what happened."""
    try:
        yield
    except json.JSONDecodeError as exc:  # the SDK reads any 200 as JSON before it could complain
        raise BackendError(_sentence(f"{service} sent a reply that is not JSON ({url}): check that the URL is the "
                                     "API itself (not a proxy's error page), or try again.")) from exc
    except Exception as exc:
        if not _is_sdk_error(exc):
            raise
        raise BackendError(_sentence(describe_sdk_error(exc, service, model, url))) from exc


def malformed_reply(service: str, url: str, missing: str) -> BackendError:
    """A reply that parsed but holds no answer: a failure, never an empty answer to grade."""
    return BackendError(_sentence(f"{service} sent a reply with no {missing} ({url}): check that the URL is the API "
                                  "itself, or try again."))


def _sentence(message: str) -> str:
    return message[0].upper() + message[1:]


def _is_sdk_error(exc: Exception) -> bool:
    return type(exc).__module__.split(".")[0] in ("anthropic", "openai")


def describe_sdk_error(exc: Exception, service: str, model: str, url: str) -> str:
    status = getattr(exc, "status_code", None)
    name = type(exc).__name__
    if "Timeout" in name:
        return f"{service} did not answer in time ({url}): try again, or raise the timeout."
    if "Connection" in name:
        return f"Cannot reach {service} at {url}: check the URL and that the server is running."
    if status in (401, 403):
        return f"{service} refused the API key (HTTP {status}): check the key."
    if status == 404:
        return f"{service} does not know the model {model!r} (HTTP 404): check the model name."
    if status == 429:
        return f"{service} is rate-limiting requests (HTTP 429) even after retries: wait and try again."
    if status is not None and status >= 500:
        return f"{service} failed on its side (HTTP {status}) even after retries: try again later."
    said = _without_keys(str(getattr(exc, "message", exc)), exc)
    return f"{service} rejected the request ({name}, HTTP {status}): {said}"


def _without_keys(text: str, exc: Exception) -> str:
    """The server's own words with the key the request carried cut out: some proxies repeat it in full, and
    the message is stored with the answer it replaced."""
    headers = getattr(getattr(exc, "request", None), "headers", {})
    for name in KEY_HEADERS:
        key = headers.get(name, "").removeprefix("Bearer ").strip()
        if key and key != NO_KEY:
            text = text.replace(key, "[API key hidden]")
    return text


class Stopwatch:
    """Wall time of one call, in seconds and milliseconds."""

    def __enter__(self) -> "Stopwatch":
        self.started = time.perf_counter()
        return self

    def __exit__(self, *_exc) -> None:
        self.seconds = time.perf_counter() - self.started

    @property
    def ms(self) -> float:
        return self.seconds * 1000
