"""The paired tests against scipy's, on known data; Holm's correction against a worked example."""

import numpy as np
import pytest
from scipy import stats

from core.history.stats import holm, is_pass_fail, mcnemar, paired_permutation


@pytest.mark.parametrize("only_a, only_b, both", [(1, 9, 5), (4, 4, 10), (0, 6, 2), (12, 3, 20)])
def test_mcnemar_is_scipys_exact_binomial_test_on_the_discordant_pairs(only_a, only_b, both):
    a = [True] * only_a + [False] * only_b + [True] * both + [False] * 7
    b = [False] * only_a + [True] * only_b + [True] * both + [False] * 7
    expected = stats.binomtest(only_a, only_a + only_b, 0.5).pvalue
    assert mcnemar(a, b).p_value == pytest.approx(expected)


def test_mcnemar_without_disagreement_finds_nothing():
    assert mcnemar([True, False], [True, False]).p_value == 1.0


def test_the_exact_permutation_test_is_scipys():
    rng = np.random.default_rng(3)
    a, b = rng.random(12), rng.random(12) + 0.3
    expected = stats.permutation_test((a, b), lambda x, y: np.mean(y - x), permutation_type="samples",
                                      n_resamples=np.inf).pvalue
    result = paired_permutation(a, b)
    assert result.p_value == pytest.approx(expected) and result.p_value < 0.05


def test_the_sampled_permutation_test_is_close_to_scipys_and_seeded():
    rng = np.random.default_rng(5)
    a, b = rng.random(60), rng.random(60) + 0.05
    expected = stats.permutation_test((a, b), lambda x, y: np.mean(y - x), permutation_type="samples",
                                      n_resamples=20_000, random_state=1).pvalue
    result = paired_permutation(a, b)
    assert result.p_value == pytest.approx(expected, abs=0.02)
    assert paired_permutation(a, b).p_value == result.p_value  # the same seed, the same answer


def test_equal_scores_are_not_significant_and_pass_fail_is_recognised():
    assert paired_permutation([0.5, 0.2], [0.5, 0.2]).p_value == 1.0
    assert is_pass_fail([0.0, 1.0, 1.0]) and not is_pass_fail([0.0, 0.5])
    with pytest.raises(ValueError, match="same questions"):
        mcnemar([True], [True, False])


def test_thousands_of_questions_stay_exact_and_fast():
    rng = np.random.default_rng(0)
    a, b = rng.random(10_000) < 0.5, rng.random(10_000) < 0.52  # numpy booleans, as scores come
    only_a, only_b = int((a & ~b).sum()), int((b & ~a).sum())
    assert mcnemar(list(a), list(b)).p_value == pytest.approx(stats.binomtest(only_a, only_a + only_b, 0.5).pvalue)
    assert 0 <= paired_permutation(rng.random(10_000), rng.random(10_000)).p_value <= 1


def test_holm_matches_the_worked_example():
    # sorted: 0.005 x 4 = 0.02, 0.01 x 3 = 0.03, 0.03 x 2 = 0.06, 0.04 x 1 = 0.04 -> raised to 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.6]) == [1.0, 1.0] and holm([0.02]) == [0.02] and holm([]) == []


def test_holm_adjusted_p_values_are_at_least_the_raw_ones_at_most_one_and_keep_their_order():
    raw = np.random.default_rng(5).random(30) ** 3
    adjusted = holm(list(raw))
    assert all(r <= a <= 1.0 for r, a in zip(raw, adjusted))
    in_raw_order = [adjusted[i] for i in np.argsort(raw)]
    assert in_raw_order == sorted(in_raw_order)
