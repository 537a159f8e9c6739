"""The model server's loaded models: each loads once and stays within a memory
budget, the least recently used leaving first.

Room is made before a model loads, for the size its safetensors headers give
(at the dtype it loads in), so memory never peaks at budget + new model; a
model whose size cannot be read first (a hub id) is loaded alone.

Only the compute thread loads, uses and evicts models; other threads read a
snapshot (`entries`) under the lock.
"""

from __future__ import annotations

import gc
import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

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


def expected_bytes(spec: SystemSpec) -> Optional[int]:
    """What `spec`'s model will occupy once loaded, read from its safetensors headers
    without loading a weight; None when its weights are not in a local folder. A
    LoRA adapter is merged into the weights, so it adds nothing."""
    from safetensors import safe_open

    from core.llm.loading import DTYPES, resolve_device, resolve_dtype
    from core.llm.sources import resolve_source

    folder, _ = resolve_source(spec.model)
    files = sorted(Path(folder).glob("*.safetensors"))
    if not files:
        return None
    options = spec.typed_options
    dtype = resolve_dtype(options.get("dtype", "auto"), resolve_device(options.get("device", "auto")))
    numel = 0
    for file in files:
        with safe_open(file, framework="pt") as weights:
            numel += sum(math.prod(weights.get_slice(name).get_shape()) for name in weights.keys())
    return numel * DTYPES[dtype].itemsize


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
        expected = expected_bytes(spec)
        self._evict_for(self.budget_bytes if expected is None else expected)
        backend = self._load(spec)
        size = model_bytes(backend)
        self._evict_for(size)  # when the headers told less than the model holds
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
