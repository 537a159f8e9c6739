"""Summary statistics of a run: confidence intervals of means (a bootstrap for graded scores, Wilson's
score interval for pass/fail ones) and latency percentiles."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from math import sqrt
from statistics import NormalDist
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


def wilson_mean(passed: Sequence[float]) -> Estimate:
    """The pass rate of 0/1 scores and its Wilson score interval, which stays honest at 0 and 1 passes
    (a bootstrap of all passes would claim the interval [1, 1])."""
    n = len(passed)
    if n == 0:
        raise ValueError("no values to estimate from")
    rate, z = sum(passed) / n, NormalDist().inv_cdf(1 - (1 - CONFIDENCE) / 2)
    centre = (rate + z * z / (2 * n)) / (1 + z * z / n)
    half = z * sqrt(rate * (1 - rate) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return Estimate(float(rate), max(0.0, centre - half), min(1.0, centre + half), n)


def latency_percentiles(values_ms: Sequence[float]) -> dict[str, float]:
    data = np.asarray(values_ms, dtype=float)
    return {f"p{q}": float(np.percentile(data, q)) for q in (50, 95, 99)}
