"""The Anthropic backend: Claude through the official `anthropic` SDK.

The SDK retries 429s, 5xx and timeouts itself (`max_retries`, with backoff);
what still fails arrives here once and leaves as a `BackendError`.
"""

from __future__ import annotations

from typing import Optional

from core.llm.base import Backend, Completion, GenerationOptions, Prompt
from core.llm.pricing import api_cost
from core.llm.remote import (DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT_S, Stopwatch, connection_options, explained_errors,
                             malformed_reply, spec_key)
from core.llm.spec import SystemSpec

SERVICE = "Anthropic"


class AnthropicBackend(Backend):
    def __init__(self, model: str, key: str, base_url: Optional[str] = None,
                 max_retries: int = DEFAULT_MAX_RETRIES, timeout: float = DEFAULT_TIMEOUT_S):
        import anthropic

        self.model_id = model
        self.client = anthropic.Anthropic(api_key=key, base_url=base_url, max_retries=max_retries, timeout=timeout)
        self.url = str(self.client.base_url)

    @classmethod
    def from_spec(cls, spec: SystemSpec, key: Optional[str] = None) -> "AnthropicBackend":
        return cls(spec.model, spec_key(spec, key), **connection_options(spec))

    def generate(self, prompt: Prompt, options: GenerationOptions = GenerationOptions()) -> Completion:
        request = {
            "model": self.model_id,
            "max_tokens": options.max_new_tokens,
            "messages": [{"role": m.role, "content": m.content} for m in prompt.messages],
        }
        if prompt.system:
            request["system"] = prompt.system
        if options.stop:
            request["stop_sequences"] = list(options.stop)
        if options.temperature > 0:
            # The 2.x SDK has no temperature argument; the API still takes the field.
            request["extra_body"] = {"temperature": options.temperature}
        with explained_errors(SERVICE, self.model_id, self.url), Stopwatch() as watch:
            response = self.client.messages.create(**request)
        if response.content is None or response.usage is None:
            raise malformed_reply(SERVICE, self.url, "content or usage")
        text = "".join(block.text for block in response.content if block.type == "text")
        usage = response.usage
        cost, warnings = api_cost(response.model or self.model_id, usage.input_tokens, usage.output_tokens,
                                  watch.seconds)
        return Completion(text=text, input_tokens=usage.input_tokens, output_tokens=usage.output_tokens,
                          latency_ms=watch.ms, model=response.model or self.model_id, cost_usd=cost,
                          warnings=warnings)
