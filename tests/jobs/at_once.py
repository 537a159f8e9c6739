"""Several processes doing one thing at the same moment: how the store's write rules are put to the test."""

from __future__ import annotations

import multiprocessing
from typing import Any, Callable


def at_once(work: Callable[[str], Any], url: str, processes: int = 4, timeout_s: float = 60) -> list[Any]:
    """`work(url)` in `processes` spawned processes released together; what each returned, in the order
    they finished. `work` is a module-level function (a spawned process imports it)."""
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(processes), context.Queue()
    started = [context.Process(target=_released, args=(work, url, barrier, results)) for _ in range(processes)]
    for process in started:
        process.start()
    outcomes = [results.get(timeout=timeout_s) for _ in started]
    for process in started:
        process.join(timeout_s)
    return outcomes


def _released(work: Callable[[str], Any], url: str, barrier, results) -> None:
    barrier.wait()
    results.put(work(url))
