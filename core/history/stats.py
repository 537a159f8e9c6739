"""Paired significance tests for two runs' scores on the same questions.

- McNemar's exact test for pass/fail metrics: only the questions where the runs disagree count,
  and under no difference each disagreement is a fair coin.
- A paired permutation (sign-flip) test for scores: under no difference each question's
  difference is as likely positive as negative. Exact for up to `EXACT_UP_TO` questions, else a
  seeded Monte Carlo estimate.

Many tests shown together (metrics x systems) are corrected by Holm's step-down method (`holm`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from fractions import Fraction
from math import comb
from typing import Sequence

import numpy as np

ALPHA = 0.05
EXACT_UP_TO = 16  # 2**16 sign patterns
PERMUTATIONS = 10_000
PERMUTATION_CHUNK = 500


@dataclass(frozen=True)
class PairedTest:
    name: str  # "McNemar" or "paired permutation"
    p_value: float  # the test's own; the verdict rests on it once corrected (`core.history.compare`)


def mcnemar(a_passed: Sequence[bool], b_passed: Sequence[bool]) -> PairedTest:
    """Two-sided exact McNemar test: a binomial test on the discordant pairs."""
    _same_length(a_passed, b_passed)
    only_a = sum(bool(a and not b) for a, b in zip(a_passed, b_passed))
    only_b = sum(bool(b and not a) for a, b in zip(a_passed, b_passed))
    discordant = only_a + only_b
    if discordant == 0:
        return PairedTest("McNemar", 1.0)
    # exact rational arithmetic: the binomial terms of thousands of disagreements overflow a float
    tail = Fraction(sum(comb(discordant, k) for k in range(min(only_a, only_b) + 1)), 2 ** discordant)
    return PairedTest("McNemar", min(1.0, float(2 * tail)))


def paired_permutation(a: Sequence[float], b: Sequence[float], permutations: int = PERMUTATIONS,
                       seed: int = 0) -> PairedTest:
    """Two-sided test of the mean difference b - a, by flipping the sign of each question's difference."""
    _same_length(a, b)
    differences = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    if differences.size == 0 or not differences.any():
        return PairedTest("paired permutation", 1.0)
    observed = abs(differences.mean()) * (1 - 1e-9)  # a flip that only reorders the sum counts as extreme
    if differences.size <= EXACT_UP_TO:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=differences.size)))
        return PairedTest("paired permutation", float((np.abs(signs @ differences) / differences.size >= observed).mean()))
    rng, extreme = np.random.default_rng(seed), 0
    for start in range(0, permutations, PERMUTATION_CHUNK):  # chunks bound the memory of the sign matrix
        signs = rng.choice((1.0, -1.0), size=(min(PERMUTATION_CHUNK, permutations - start), differences.size))
        extreme += int((np.abs(signs @ differences) / differences.size >= observed).sum())
    return PairedTest("paired permutation", (extreme + 1) / (permutations + 1))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the given order: the k-th smallest of m (from k = 0) times m - k,
    kept from falling below the one before it, at most 1."""
    adjusted = [0.0] * len(p_values)
    running = 0.0
    for rank, index in enumerate(sorted(range(len(p_values)), key=lambda i: p_values[i])):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def is_pass_fail(values: Sequence[float]) -> bool:
    """Every value is 0 or 1: how a metric the catalog lacks (an older run's) is told to be pass/fail."""
    return all(value in (0.0, 1.0) for value in values)


def _same_length(a: Sequence, b: Sequence) -> None:
    if len(a) != len(b):
        raise ValueError(f"paired tests need the same questions in both runs ({len(a)} against {len(b)})")
