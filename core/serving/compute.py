"""The model server's compute loop: every generation runs on one thread, the
process's main one, never in an HTTP handler's.

Requests that arrive together are micro-batched: after the first, the loop
waits up to `window_s` for more, then asks each model for its requests in one
left-padded `generate_batch` call. Requests that arrive while a batch
generates wait in the queue and form the next batch. Other work that touches
models (releasing them) goes through the same queue, so it never runs
mid-generation.

On stop, the batch generating finishes and everything still queued (or
gathering for the next batch) is refused at once with `ServerStoppingError`.
A request whose asker gave up (its future cancelled) is skipped, never generated.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Callable

from core.errors import BackendError
from core.llm.base import Completion, GenerationOptions, Prompt
from core.llm.spec import SystemSpec
from core.serving.pool import ModelPool

DEFAULT_WINDOW_S = 0.010
MAX_BATCH = 64  # requests taken per round; the backend splits them by its batch_size
POLL_S = 0.5


class ServerStoppingError(BackendError):
    """The server is stopping: the request was not generated."""


@dataclass
class GenerationRequest:
    spec: SystemSpec
    prompt: Prompt
    options: GenerationOptions
    future: Future = field(default_factory=Future)
    queued_at: float = field(default_factory=time.perf_counter)

    @property
    def batch_key(self) -> tuple:
        return self.spec.text, self.options


@dataclass(frozen=True)
class ServedCompletion:
    """A completion with how it was served: time queued and the batch it was part of."""

    completion: Completion
    queue_ms: float
    batch_size: int


@dataclass
class ServingStats:
    requests: int = 0
    batch_sizes: Counter = field(default_factory=Counter)  # batch size -> generate_batch calls
    last_used: float = field(default_factory=time.monotonic)
    compute_thread: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"requests": self.requests, "generate_batch_calls": sum(self.batch_sizes.values()),
                "batch_sizes": {str(size): calls for size, calls in sorted(self.batch_sizes.items())},
                "idle_s": round(time.monotonic() - self.last_used, 1), "compute_thread": self.compute_thread}


class ComputeLoop:
    def __init__(self, pool: ModelPool, window_s: float = DEFAULT_WINDOW_S):
        self.pool = pool
        self.window_s = window_s
        self.stats = ServingStats()
        self._queue: queue.Queue = queue.Queue()
        self._stopped = False
        self._stop_lock = threading.Lock()  # nothing is queued after the queue was emptied for good

    def generate(self, spec: SystemSpec, prompt: Prompt, options: GenerationOptions) -> Future:
        """Queue one generation; the future resolves to a `ServedCompletion`."""
        request = GenerationRequest(spec, prompt, options)
        self._put(request)
        return request.future

    def call(self, work: Callable[[], Any]) -> Future:
        """Run `work` on the compute thread, between batches."""
        future: Future = Future()
        self._put((work, future))
        return future

    def run(self, should_stop: Callable[[], bool]) -> None:
        """Serve until `should_stop()`; call it on the thread that is to generate."""
        self.stats.compute_thread = threading.current_thread().name
        try:
            while not should_stop():
                try:
                    first = self._queue.get(timeout=POLL_S)
                except queue.Empty:
                    continue
                items = [first, *self._gather(time.perf_counter() + self.window_s, should_stop)]
                if should_stop():
                    _refuse(items)
                else:
                    self._serve(items)
        finally:
            self._stop()

    def _put(self, item: Any) -> None:
        with self._stop_lock:
            if not self._stopped:
                self._queue.put(item)
                return
        _refuse([item])

    def _stop(self) -> None:
        with self._stop_lock:
            self._stopped = True
        items = []
        while not self._queue.empty():
            items.append(self._queue.get_nowait())
        _refuse(items)

    def _gather(self, deadline: float, should_stop: Callable[[], bool]) -> list:
        items = []
        while len(items) < MAX_BATCH - 1 and not should_stop():
            remaining = deadline - time.perf_counter()
            try:
                wait = min(remaining, POLL_S)  # a long batch window still notices a stop
                items.append(self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait())
            except queue.Empty:
                if remaining <= POLL_S:
                    break
        return items

    def _serve(self, items: list) -> None:
        requests = [item for item in items if isinstance(item, GenerationRequest)]
        for work, future in (item for item in items if not isinstance(item, GenerationRequest)):
            _settle(future, work)
        batches: dict[tuple, list[GenerationRequest]] = {}
        for request in requests:
            batches.setdefault(request.batch_key, []).append(request)
        for batch in batches.values():
            self._generate(batch)
        self.stats.last_used = time.monotonic()

    def _generate(self, batch: list[GenerationRequest]) -> None:
        batch = [request for request in batch if request.future.set_running_or_notify_cancel()]
        if not batch:
            return
        started = time.perf_counter()
        try:
            backend = self.pool.get(batch[0].spec)
            completions = backend.generate_batch([r.prompt for r in batch], batch[0].options)
        except Exception as exc:  # the askers get the error; the server goes on serving
            for request in batch:
                request.future.set_exception(exc)
            return
        self.stats.requests += len(batch)
        self.stats.batch_sizes[len(batch)] += 1
        for request, completion in zip(batch, completions):
            queue_ms = (started - request.queued_at) * 1000
            request.future.set_result(ServedCompletion(completion, queue_ms, len(batch)))


def _settle(future: Future, work: Callable[[], Any]) -> None:
    if not future.set_running_or_notify_cancel():
        return
    try:
        future.set_result(work())
    except Exception as exc:
        future.set_exception(exc)


def _refuse(items: list) -> None:
    for item in items:
        future = item.future if isinstance(item, GenerationRequest) else item[1]
        if future.set_running_or_notify_cancel():
            future.set_exception(ServerStoppingError("The model server is stopping: ask again (the app starts "
                                                     "a new one), or start one with `python -m core serve`."))
