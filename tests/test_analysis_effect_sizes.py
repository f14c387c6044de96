"""Effect sizes and exact tests on cases known by hand (and by scipy where it has them)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from workflow_scripts.analysis.effect_sizes import (
    holm,
    kendall_tau,
    rank_correlation,
    rank_test_p,
    ratio_of_medians,
    smallest_p,
)


def test_exact_rank_test_p_values_by_enumeration() -> None:
    # 3 vs 3: 20 splits; full separation is the one split of rank sum 6: p = 1/20.
    assert rank_test_p([1, 2, 3], [4, 5, 6]) == pytest.approx(0.05) == smallest_p(3, 3)
    # a's ranks 1, 2, 4 (sum 7): splits with sum <= 7 are {1,2,3} and {1,2,4}: p = 2/20.
    assert rank_test_p([1, 2, 4], [3, 5, 6]) == pytest.approx(0.1)
    assert rank_test_p([4, 5, 6], [1, 2, 3]) == 1.0
    assert smallest_p(5, 5) == pytest.approx(1 / 252)
    # "Never reached" (+inf) ranks last and ties with itself.
    assert rank_test_p([1, 2, 3], [4, 5, np.inf]) == pytest.approx(0.05)
    assert rank_test_p([np.inf] * 3, [np.inf] * 3) == 1.0
    rng = np.random.default_rng(0)
    for _ in range(5):
        a, b = rng.normal(size=4), rng.normal(0.5, size=3)
        exact = stats.mannwhitneyu(a, b, alternative="less", method="exact").pvalue
        assert rank_test_p(a, b) == pytest.approx(exact)


def test_holm_by_hand() -> None:
    # Sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1, kept monotone: 0.02, 0.03, 0.06, 0.06.
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    adjusted = holm([0.05, math.nan, 0.05])  # NaN is not in the family
    assert adjusted[0] == adjusted[2] == pytest.approx(0.1) and math.isnan(adjusted[1])
    assert holm([0.6, 0.7]) == [1.0, 1.0]


def test_ratio_of_medians_at_three_seeds_spans_min_over_max() -> None:
    estimate, low, high = ratio_of_medians([1.0, 2.0, 3.0], [10.0, 20.0, 30.0])
    assert estimate == pytest.approx(0.1)
    assert (low, high) == pytest.approx((1 / 30, 3 / 10))
    # one seed: no interval
    estimate, low, high = ratio_of_medians([1.0], [2.0, 3.0])
    assert estimate == 0.4 and math.isnan(low) and math.isnan(high)
    # neither reached (inf / inf) counts as equal
    assert ratio_of_medians([np.inf] * 3, [np.inf] * 3)[0] == 1.0


def test_kendall_tau_and_its_exact_permutation_p() -> None:
    assert kendall_tau([0, 1, 2], [3.0, 2.0, 1.0]) == -1.0
    x, y = [0, 1, 1, 2, 2], [5.0, 3.0, 4.0, 1.0, 2.0]
    assert kendall_tau(x, y) == pytest.approx(stats.kendalltau(x, y).statistic)
    samples = [[3.0, 3.1, 2.9], [2.0, 2.1, 1.9], [1.0, 1.1, 0.9]]
    effect = rank_correlation([0, 1, 2], samples, expect_negative=True)
    assert effect.estimate == -1.0 and (effect.low, effect.high) == (-1.0, -1.0)
    assert effect.p_value == pytest.approx(1 / 6)  # one of the 3! orders is as extreme
    # The other direction: as little evidence as can be.
    assert rank_correlation([0, 1, 2], samples, expect_negative=False).p_value == 1.0
