"""A fake Claude for ragas: it answers each structured-output request (a forced tool call, as
instructor asks Anthropic) with an instance of the requested schema. It always agrees (every
verdict 1) and is never noncommittal, so a metric's value follows from ragas's formula alone.
Asked as the pointwise judge (plain text), it gives 5/5."""

from __future__ import annotations

from typing import Any

from tests.llm.fake_servers import Reply, anthropic_message

AGREEING = {"verdict": 1, "attributed": 1, "noncommittal": 0}


def agreeing_judge(request: dict) -> Reply:
    if "tools" not in request:
        return anthropic_message('{"score": 5, "reason": "The same facts as the reference."}')
    tool = request["tools"][0]
    arguments = _instance(tool["input_schema"], tool["input_schema"].get("$defs", {}))
    return Reply(body={
        "id": "msg_ragas", "type": "message", "role": "assistant", "model": request["model"],
        "content": [{"type": "tool_use", "id": "toolu_1", "name": tool["name"], "input": arguments}],
        "stop_reason": "tool_use", "stop_sequence": None, "usage": {"input_tokens": 100, "output_tokens": 20},
    })


def _instance(schema: dict, definitions: dict, name: str = "") -> Any:
    if "$ref" in schema:
        return _instance(definitions[schema["$ref"].rsplit("/", 1)[-1]], definitions, name)
    if "anyOf" in schema:
        return _instance(schema["anyOf"][0], definitions, name)
    kind = schema.get("type")
    if kind == "object":
        return {key: _instance(value, definitions, key) for key, value in schema.get("properties", {}).items()}
    if kind == "array":
        return [_instance(schema["items"], definitions, name)]
    if kind in ("integer", "number"):
        return AGREEING.get(name, 1)
    if kind == "boolean":
        return True
    return f"What does the fake {name or 'text'} say?"
