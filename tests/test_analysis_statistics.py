"""Statistics over seeds: the bootstrap interval's coverage, determinism, the tidy table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workflow_scripts.analysis.statistics import (
    bootstrap_median_interval,
    order_statistic_coverage,
    representative,
    summarize_over_seeds,
    wide,
)

N_EXPERIMENTS = 200
# 3 binomial standard errors of a coverage estimated from 200 experiments at p = 0.95
# (0.046) or p = 0.75 (0.092): a correct interval fails this about 3 times in 1000.
TOLERANCE_95, TOLERANCE_75 = 0.046, 0.092


def _coverage(n_seeds: int, rng_seed: int) -> float:
    """Share of synthetic experiments (normal, mean = median = 1) whose interval covers 1."""
    rng = np.random.default_rng(rng_seed)
    data = rng.normal(1.0, 1.0, size=(N_EXPERIMENTS, n_seeds))
    intervals = [bootstrap_median_interval(d, rng, n_resamples=1000) for d in data]
    return float(np.mean([low <= 1.0 <= high for low, high in intervals]))


def test_interval_covers_the_known_mean_at_about_the_nominal_rate_with_ten_seeds() -> None:
    # The percentile bootstrap of the median undercovers slightly at 10 seeds (~0.93-0.95
    # over several RNG seeds), within the binomial tolerance of 200 experiments.
    assert abs(_coverage(10, rng_seed=1) - 0.95) <= TOLERANCE_95


def test_with_three_seeds_the_interval_is_min_max_and_covers_three_times_in_four() -> None:
    # The honest figure for the default 3 seeds: 1 - 2^(1-3) = 0.75, not 0.95.
    assert order_statistic_coverage(3) == 0.75
    assert order_statistic_coverage(5) == pytest.approx(0.9375)
    assert order_statistic_coverage(7) == pytest.approx(0.875)
    assert abs(_coverage(3, rng_seed=2) - order_statistic_coverage(3)) <= TOLERANCE_75
    values = np.array([3.0, 1.0, 2.0])
    assert bootstrap_median_interval(values, np.random.default_rng(0)) == (1.0, 3.0)


def test_one_value_has_no_interval() -> None:
    low, high = bootstrap_median_interval(np.array([2.0]), np.random.default_rng(0))
    assert np.isnan(low) and np.isnan(high)


def _runs() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "experiment": "e",
            "model": ["a"] * 4 + ["b"] * 3,
            "physics_bias": ["none"] * 4 + ["strong"] * 3,
            "seed": [0, 1, 2, 3, 0, 1, 2],
            "test_mse": [4.0, 1.0, 3.0, 2.0, 10.0, 30.0, 20.0],
            "train_energy_kwh": [1.0, 1.0, 1.0, np.nan, 5.0, 6.0, 7.0],
        }
    )


def test_tidy_table_per_group_and_metric_with_seed_counts() -> None:
    stats = summarize_over_seeds(_runs())
    assert list(stats.columns) == [
        "experiment",
        "model",
        "point",
        "physics_bias",
        "metric",
        "n_seeds",
        "median",
        "ci_low",
        "ci_high",
        "min",
        "max",
    ]
    row = stats.set_index(["model", "metric"])
    assert row.loc[("a", "test_mse"), ["n_seeds", "median", "min", "max"]].tolist() == [
        4,
        2.5,
        1,
        4,
    ]
    # A missing value leaves that metric's seed count one short, not the others'.
    assert row.loc[("a", "train_energy_kwh"), "n_seeds"] == 3
    assert row.loc[("b", "test_mse"), ["median", "ci_low", "ci_high"]].tolist() == [20, 10, 30]
    assert set(stats["point"]) == {"base"}
    medians = wide(stats, ["median", "ci_low"])
    assert medians.set_index("model").loc["b", "test_mse_median"] == 20.0
    assert medians.set_index("model").loc["b", "physics_bias"] == "strong"


def test_intervals_are_deterministic_and_independent_of_other_groups() -> None:
    runs = _runs()
    first = summarize_over_seeds(runs, seed=3)
    assert first.equals(summarize_over_seeds(runs, seed=3))
    more = pd.concat([runs, runs.assign(model="c")])
    again = summarize_over_seeds(more, seed=3)
    assert again[again["model"] != "c"].reset_index(drop=True).equals(first)


def test_representative_point_is_base_else_the_most_trained() -> None:
    table = pd.DataFrame(
        {
            "experiment": "e",
            "model": ["a", "a", "b", "b"],
            "point": ["s1", "base", "s1", "s2"],
            "train_energy_kwh_median": [1.0, 2.0, 5.0, 3.0],
        }
    )
    chosen = representative(table).set_index("model")["point"]
    assert chosen.to_dict() == {"a": "base", "b": "s1"}
