"""The model server's loaded models: each loads once and stays within a memory
budget, the least recently used leaving first.

Only the compute thread loads, uses and evicts models; other threads read a
snapshot (`entries`) under the lock.
"""

from __future__ import annotations

import gc
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import psutil

from core.llm.spec import SystemSpec

if TYPE_CHECKING:  # loading it loads torch: `python -m core server status` must not
    from core.llm.local import LocalBackend

DEFAULT_BUDGET_FRACTION = 0.5  # of this machine's memory, when no budget is given


@dataclass(frozen=True)
class PoolEntry:
    spec: str
    model: str
    bytes: int
    device: str
    dtype: str
    last_used: float


def default_budget_bytes() -> int:
    return int(psutil.virtual_memory().total * DEFAULT_BUDGET_FRACTION)


def model_bytes(backend: LocalBackend) -> int:
    """What the model's weights and buffers occupy."""
    model = backend.loaded.model
    tensors = [*model.parameters(), *model.buffers()]
    return sum(t.numel() * t.element_size() for t in tensors)


def load_for_pool(spec: SystemSpec) -> LocalBackend:
    from core.llm.local import LocalBackend

    return LocalBackend.from_spec(spec, shared=False)  # the pool owns its memory, not the process cache


class ModelPool:
    def __init__(self, budget_bytes: int, load: Callable[[SystemSpec], LocalBackend] = load_for_pool):
        self.budget_bytes = budget_bytes
        self._load = load
        self._models: OrderedDict[str, tuple[LocalBackend, PoolEntry]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, spec: SystemSpec) -> LocalBackend:
        """The loaded model for `spec`, loading it (and evicting others) if needed."""
        key = spec.text
        with self._lock:
            if key in self._models:
                backend, entry = self._models.pop(key)
                self._models[key] = (backend, _touched(entry))
                return backend
        backend = self._load(spec)
        size = model_bytes(backend)
        self._evict_for(size)
        entry = PoolEntry(spec=key, model=backend.loaded.name, bytes=size, device=backend.loaded.device,
                          dtype=backend.loaded.dtype, last_used=time.time())
        with self._lock:
            self._models[key] = (backend, entry)
        return backend

    def entries(self) -> list[PoolEntry]:
        """Loaded models, least recently used first."""
        with self._lock:
            return [entry for _, entry in self._models.values()]

    def release(self) -> list[str]:
        """Drop every model and hand its memory back; returns the specs released."""
        with self._lock:
            released = list(self._models)
            self._models.clear()
        _free_memory()
        return released

    def _evict_for(self, incoming: int) -> None:
        """Evict least recently used models until `incoming` bytes fit the budget
        (a model larger than the whole budget still loads, alone)."""
        with self._lock:
            evicted = False
            while self._models and sum(e.bytes for _, e in self._models.values()) + incoming > self.budget_bytes:
                self._models.popitem(last=False)
                evicted = True
        if evicted:
            _free_memory()


def _touched(entry: PoolEntry) -> PoolEntry:
    return PoolEntry(**{**entry.__dict__, "last_used": time.time()})


def _free_memory() -> None:
    gc.collect()
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()
