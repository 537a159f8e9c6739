"""Summary statistics of a run: bootstrap confidence intervals and latency percentiles."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

BOOTSTRAP_SAMPLES = 2000
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Estimate:
    mean: float
    low: float  # the 95% bootstrap interval of the mean
    high: float
    n: int

    def as_dict(self) -> dict:
        return asdict(self)


def bootstrap_mean(values: Sequence[float], samples: int = BOOTSTRAP_SAMPLES, seed: int = 0) -> Estimate:
    """The mean and its percentile bootstrap interval (seeded: the same values give the same interval)."""
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        raise ValueError("no values to estimate from")
    resampled = np.random.default_rng(seed).choice(data, size=(samples, data.size), replace=True).mean(axis=1)
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(resampled, [tail, 100 - tail])
    return Estimate(float(data.mean()), float(low), float(high), int(data.size))


def latency_percentiles(values_ms: Sequence[float]) -> dict[str, float]:
    data = np.asarray(values_ms, dtype=float)
    return {f"p{q}": float(np.percentile(data, q)) for q in (50, 95, 99)}
