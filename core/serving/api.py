"""The model server's HTTP API: OpenAI's chat completions, for local system specs.

`model` is a local system spec (`local`, `local?adapter=NAME`, `local:PATH`,
with dtype and device options). Handlers only translate: generation is queued
to the compute loop and awaited. Besides OpenAI's `usage`, each response
carries `lab`: the server-side generation time, time queued, batch size, cost
and warnings, so a client's latency and cost stay exact. Unlike OpenAI,
`temperature` defaults to 0 (greedy), as everywhere in the lab.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from typing import Callable, Literal, Optional, Union

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from core.errors import InvalidInputError, LabError, NotFoundError
from core.llm.base import GenerationOptions, Message, Prompt
from core.llm.registry import BACKENDS
from core.llm.spec import SystemSpec, parse_spec
from core.serving.compute import ComputeLoop, ServedCompletion, ServerStoppingError

DEFAULT_MAX_TOKENS = GenerationOptions.max_new_tokens


class TextPart(BaseModel):
    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    role: Literal["system", "developer", "user", "assistant"]
    content: Union[str, list[TextPart]]

    @property
    def text(self) -> str:
        return self.content if isinstance(self.content, str) else "".join(part.text for part in self.content)


class ChatRequest(BaseModel):
    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: Optional[int] = Field(default=None, ge=1)
    max_completion_tokens: Optional[int] = Field(default=None, ge=1)
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    stop: Union[str, list[str], None] = None
    seed: Optional[int] = None
    n: int = 1
    stream: bool = False
    tools: Optional[list] = None


def create_api(compute: ComputeLoop, served_models: Callable[[], list[str]]) -> FastAPI:
    """The app; `served_models()` lists the specs a client can ask for (`/v1/models`)."""
    api = FastAPI(title="RAG-or-Tune Lab model server", docs_url=None, redoc_url=None)

    @api.exception_handler(LabError)
    async def lab_error(_request: Request, exc: LabError) -> JSONResponse:
        return openai_error(404 if isinstance(exc, NotFoundError) else 400, str(exc))

    @api.exception_handler(ServerStoppingError)
    async def stopping(_request: Request, exc: ServerStoppingError) -> JSONResponse:
        return openai_error(503, str(exc))

    @api.exception_handler(Exception)
    async def server_error(_request: Request, exc: Exception) -> JSONResponse:  # e.g. out of memory
        return openai_error(500, f"The model server failed on this request ({type(exc).__name__}: {exc}).")

    @api.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'][1:])) or 'body'}: {e['msg']}" for e in exc.errors())
        return openai_error(400, f"Invalid request: {problems}")

    @api.get("/health")
    async def health() -> dict:
        return {"status": "ok", "pid": os.getpid(), "stats": compute.stats.as_dict(),
                "models": [entry.__dict__ for entry in compute.pool.entries()]}

    @api.get("/v1/models")
    async def models() -> dict:
        loaded = {entry.spec: entry for entry in compute.pool.entries()}
        specs = list(dict.fromkeys([*served_models(), *loaded]))
        return {"object": "list", "data": [
            {"id": spec, "object": "model", "owned_by": "local", "loaded": spec in loaded} for spec in specs]}

    @api.post("/v1/chat/completions")
    async def chat_completions(request: ChatRequest) -> dict:
        spec, prompt, options = parse_request(request)
        served = await asyncio.wrap_future(compute.generate(spec, prompt, options))
        return completion_response(served, options)

    @api.post("/v1/release")
    async def release() -> dict:
        released = await asyncio.wrap_future(compute.call(compute.pool.release))
        return {"released": released}

    return api


def openai_error(status: int, message: str) -> JSONResponse:
    kind = "not_found_error" if status == 404 else "server_error" if status >= 500 else "invalid_request_error"
    return JSONResponse(status_code=status, content={"error": {"message": message, "type": kind, "code": status}})


def served_spec(model: str) -> SystemSpec:
    """The local model spec a request names; anything else is refused with the reason."""
    spec = parse_spec(model)
    if not BACKENDS[spec.backend].runs_locally:
        raise InvalidInputError(f"This server serves local models only; {model!r} names the {spec.backend} "
                                "backend. Ask for `local`, `local:PATH` or `local?adapter=NAME`.")
    if spec.kb:
        raise InvalidInputError(f"{model!r} asks for a knowledge base: retrieval happens in the client, so "
                                f"ask for the model alone ({spec.model_only.text}) with the retrieved context.")
    return spec


def parse_request(request: ChatRequest) -> tuple[SystemSpec, Prompt, GenerationOptions]:
    if request.stream or request.n != 1 or request.tools:
        raise InvalidInputError("This server answers with one whole completion: stream, n > 1 and tools "
                                "are not supported.")
    system = "\n\n".join(m.text for m in request.messages if m.role in ("system", "developer"))
    turns = tuple(Message(m.role, m.text) for m in request.messages if m.role in ("user", "assistant"))
    if not turns or turns[-1].role != "user":
        raise InvalidInputError("The messages must end with a user message: that is what the model answers.")
    stop = (request.stop,) if isinstance(request.stop, str) else tuple(request.stop or ())
    options = GenerationOptions(max_new_tokens=request.max_completion_tokens or request.max_tokens or DEFAULT_MAX_TOKENS,
                                temperature=request.temperature, stop=stop, seed=request.seed)
    return served_spec(request.model), Prompt(turns, system), options


def completion_response(served: ServedCompletion, options: GenerationOptions) -> dict:
    completion = served.completion
    finish = "length" if completion.output_tokens >= options.max_new_tokens else "stop"
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "created": int(time.time()),
        "model": completion.model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": completion.text},
                     "finish_reason": finish}],
        "usage": {"prompt_tokens": completion.input_tokens, "completion_tokens": completion.output_tokens,
                  "total_tokens": completion.input_tokens + completion.output_tokens},
        "lab": {"generation_ms": completion.latency_ms, "queue_ms": served.queue_ms,
                "batch_size": served.batch_size, "cost_usd": completion.cost_usd,
                "warnings": list(completion.warnings)},
    }
