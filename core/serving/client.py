"""A local model asked through the model server: the same spec, generated in the
server's process, answered as a `Completion` like any backend's.

Latency is what the asker waited (the whole request); tokens, cost and
warnings are the server's. A batch is sent as concurrent requests, so the
server's micro-batching turns it into one `generate_batch` call.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Optional, Sequence

from core.errors import BackendError, InvalidInputError, NotFoundError
from core.llm.base import Backend, Completion, GenerationOptions, Prompt
from core.llm.remote import Stopwatch
from core.llm.spec import SystemSpec

REQUEST_TIMEOUT_S = 600.0  # a long answer on a CPU, behind a queue of others
MAX_CONCURRENT = 16


class ServerBackend(Backend):
    native_batching = True  # the server batches concurrent requests

    def __init__(self, url: str, spec: SystemSpec, reconnect: Optional[Callable[[], str]] = None,
                 timeout_s: float = REQUEST_TIMEOUT_S):
        """`reconnect()` returns the URL of a (re)started server; without it, a dead
        server is reported instead of restarted."""
        self.spec = spec
        self.model_id = spec.text
        self.reconnect = reconnect
        self.timeout_s = timeout_s
        self._connect(url)

    def _connect(self, url: str) -> None:
        import openai

        self.url = url
        self.client = openai.OpenAI(base_url=f"{url}/v1", api_key="not-needed", max_retries=0,
                                    timeout=self.timeout_s)

    def generate(self, prompt: Prompt, options: GenerationOptions = GenerationOptions()) -> Completion:
        """Ask once; only a request that never reached the server is sent again, once,
        to the restarted server: anything else may have cost a generation already."""
        import openai

        try:
            return self._ask(prompt, options)
        except openai.APIConnectionError as exc:
            if not _never_reached(exc) or self.reconnect is None:
                raise self._lost(exc) from None
            self._connect(self.reconnect())
        try:
            return self._ask(prompt, options)
        except openai.APIConnectionError as exc:
            raise self._lost(exc) from None

    def _lost(self, exc: Exception) -> BackendError:
        """Why no answer came, as the user can act on it. The client's pooled connections go with it: one kept
        alive to a server that died would fail the next question too, instead of finding the server gone."""
        import openai

        self._connect(self.url)
        if _never_reached(exc):
            return BackendError(f"The local model server at {self.url} stopped answering: ask again "
                                "(the app restarts it), or start one with `python -m core serve`.")
        if isinstance(exc, openai.APITimeoutError):
            return BackendError(f"The local model server at {self.url} did not answer within {self.timeout_s:g} s "
                                "(long answers, or many queued): ask again, or ask for fewer tokens.")
        return BackendError(f"The local model server at {self.url} stopped while answering: ask again "
                            "(the app restarts it); `python -m core server status` shows whether it runs.")

    def generate_batch(self, prompts: Sequence[Prompt],
                       options: GenerationOptions = GenerationOptions()) -> list[Completion]:
        with ThreadPoolExecutor(max_workers=min(len(prompts), MAX_CONCURRENT) or 1) as pool:
            return list(pool.map(lambda prompt: self.generate(prompt, options), prompts))

    def _ask(self, prompt: Prompt, options: GenerationOptions) -> Completion:
        import openai

        system = [{"role": "system", "content": prompt.system}] if prompt.system else []
        messages = system + [{"role": m.role, "content": m.content} for m in prompt.messages]
        try:
            with Stopwatch() as watch:
                response = self.client.chat.completions.create(
                    model=self.spec.text, messages=messages, max_tokens=options.max_new_tokens,
                    temperature=options.temperature, stop=list(options.stop) or None, seed=options.seed)
        except openai.APIStatusError as exc:
            raise _refusal(exc, self.spec.text) from None
        lab = (response.model_extra or {}).get("lab", {})
        return Completion(text=response.choices[0].message.content or "", input_tokens=response.usage.prompt_tokens,
                          output_tokens=response.usage.completion_tokens, latency_ms=watch.ms,
                          model=response.model, cost_usd=lab.get("cost_usd", 0.0),
                          warnings=tuple(lab.get("warnings", ())))


def _never_reached(exc: Exception) -> bool:
    """True when the connection itself failed, so the server cannot have seen the request."""
    # By name: the SDK's transport (httpx, or its fork httpx2) names its connect-phase errors so.
    return type(exc.__cause__).__name__ in ("ConnectError", "ConnectTimeout")


def _refusal(exc, spec: str) -> Exception:
    """The server's own message, as the error type it stands for."""
    body = exc.body if isinstance(exc.body, dict) else {}
    message = body.get("message") or str(exc)
    if exc.status_code == 404:
        return NotFoundError(message)
    if exc.status_code == 400:
        return InvalidInputError(message)
    return BackendError(f"The local model server failed on {spec} (HTTP {exc.status_code}): {message}")
