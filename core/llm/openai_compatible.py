"""The OpenAI-compatible backend: any server speaking `/v1/chat/completions`.

That is how a team reaches the model it serves itself (vLLM, Ollama,
llama.cpp server, TGI) as well as OpenAI's own API. A self-hosted server
usually needs no key; OpenAI's does.
"""

from __future__ import annotations

from typing import Optional

from core.llm.base import Backend, Completion, GenerationOptions, Prompt
from core.llm.pricing import api_cost
from core.llm.registry import BACKENDS
from core.llm.remote import (DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT_S, Stopwatch, connection_options, explained_errors,
                             malformed_reply, spec_key)
from core.llm.spec import SystemSpec

OPENAI_URL = BACKENDS["openai"].official_url
SERVICE = "the OpenAI-compatible server"


class OpenAICompatibleBackend(Backend):
    def __init__(self, model: str, key: str, base_url: Optional[str] = None,
                 max_retries: int = DEFAULT_MAX_RETRIES, timeout: float = DEFAULT_TIMEOUT_S):
        import openai

        self.self_hosted = bool(base_url) and base_url.rstrip("/") != OPENAI_URL
        self.model_id = model
        self.url = base_url or OPENAI_URL
        self.client = openai.OpenAI(api_key=key, base_url=self.url, max_retries=max_retries, timeout=timeout)

    @classmethod
    def from_spec(cls, spec: SystemSpec, key: Optional[str] = None) -> "OpenAICompatibleBackend":
        return cls(spec.model, spec_key(spec, key), **connection_options(spec))

    def generate(self, prompt: Prompt, options: GenerationOptions = GenerationOptions()) -> Completion:
        system = [{"role": "system", "content": prompt.system}] if prompt.system else []
        request = {
            "model": self.model_id,
            "messages": system + [{"role": m.role, "content": m.content} for m in prompt.messages],
            "max_tokens": options.max_new_tokens,
            "temperature": options.temperature,
        }
        if options.stop:
            request["stop"] = list(options.stop)
        if options.seed is not None:
            request["seed"] = options.seed
        with explained_errors(SERVICE, self.model_id, self.url), Stopwatch() as watch:
            response = self.client.chat.completions.create(**request)
        if not response.choices:
            raise malformed_reply(SERVICE, self.url, "choices")
        text = response.choices[0].message.content or ""
        input_tokens, output_tokens = _usage(response)
        cost, warnings = api_cost(self.model_id, input_tokens, output_tokens, watch.seconds,
                                  self_hosted=self.self_hosted)
        if response.usage is None:
            warnings += ("The server reported no token usage: tokens show as 0.",)
        return Completion(text=text, input_tokens=input_tokens, output_tokens=output_tokens,
                          latency_ms=watch.ms, model=response.model or self.model_id, cost_usd=cost,
                          warnings=warnings)


def _usage(response) -> tuple[int, int]:
    usage = response.usage
    if usage is None:
        return 0, 0
    return usage.prompt_tokens or 0, usage.completion_tokens or 0
