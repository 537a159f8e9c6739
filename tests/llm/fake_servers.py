"""Local fake HTTP servers that speak the Anthropic and OpenAI wire formats.

Only the network is faked: the real SDKs make real HTTP requests to 127.0.0.1,
with their real retries and timeouts.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable


@dataclass
class Reply:
    status: int = 200
    body: dict | bytes = field(default_factory=dict)  # bytes: sent as they are (a garbled reply)
    headers: dict = field(default_factory=dict)
    delay_s: float = 0.0


def anthropic_message(text: str, input_tokens: int = 11, output_tokens: int = 7,
                      model: str = "claude-sonnet-4-5-20250929") -> Reply:
    return Reply(body={
        "id": "msg_01", "type": "message", "role": "assistant", "model": model,
        "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
    })


def openai_chat(text: str, prompt_tokens: int = 13, completion_tokens: int = 5, model: str = "served-model",
                usage: bool = True) -> Reply:
    body = {
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1_700_000_000, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
    }
    if usage:
        body["usage"] = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                         "total_tokens": prompt_tokens + completion_tokens}
    return Reply(body=body)


def error(status: int, message: str = "failure", kind: str = "api_error") -> Reply:
    # Both APIs wrap errors as {"error": {...}}; Anthropic adds a top-level type.
    return Reply(status=status, body={"type": "error", "error": {"type": kind, "message": message}},
                 headers={"retry-after-ms": "10"})


class FakeServer:
    """Answers each POST with the next scripted reply (the last one repeats). A reply may be a
    function of the request's JSON body, for a server that answers what it is asked."""

    def __init__(self, *replies: Reply | Callable[[dict], Reply]):
        self.replies = list(replies)
        self.requests: list[dict] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> "FakeServer":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _next_reply(self) -> Reply:
        return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("content-length", 0))
                fake.requests.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                                      "json": json.loads(self.rfile.read(length) or b"{}")})
                reply = fake._next_reply()
                if callable(reply):
                    reply = reply(fake.requests[-1]["json"])
                time.sleep(reply.delay_s)
                payload = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    for name, value in {"content-type": "application/json", **reply.headers}.items():
                        self.send_header(name, value)
                    self.send_header("content-length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (the timeout tests)

            def log_message(self, *_args):
                pass

        return Handler
