"""Statistics over seeds: median, a bootstrap interval of the median, min and max per group.

Each (experiment, model, sweep point) is trained once per seed; this module reduces those runs
to one row per group and figure, in a tidy (long) table: a row per (group, metric).

The interval is the percentile bootstrap of the median (``N_RESAMPLES`` resamples of the
seeds, drawn from an RNG seeded by ``seed`` and the group's name, so a group's interval does
not change when other groups are added). With few seeds it covers the true median less often
than its nominal 95 %: for n continuous, independent seeds the resampled median falls on an
order statistic, and the interval is [min, max] for n <= 5, whose coverage is 1 - 2^(1-n):
75 % at 3 seeds, 94 % at 5; at 7 seeds it is [x(2), x(6)], 88 %. No interval of the median
from 3 seeds can honestly claim more than 75 % without assuming a distribution, so the table
states each interval's ``n_seeds`` beside it and :func:`order_statistic_coverage` gives the
coverage to expect. Percentile rather than BCa: BCa's acceleration comes from the jackknife,
which for the median of 3-5 values is degenerate (the jackknife medians take two values).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from math import comb

import numpy as np
import pandas as pd

GROUP = ["experiment", "model", "point"]
# Descriptions of a group, constant within it, carried beside the keys when present.
ATTRIBUTES = ["physics_bias", "sweep_key", "sweep_value"]
STATISTICS = ["n_seeds", "median", "ci_low", "ci_high", "min", "max"]
CI_LEVEL = 0.95
N_RESAMPLES = 4000
BASE_POINT = "base"
# Numeric columns that identify or describe a run rather than measure it.
_NOT_METRICS = {"seed", "lifecycle_predictions", "sweep_value", "energy_is_estimate"}


def with_point(runs: pd.DataFrame) -> pd.DataFrame:
    """The run table with a ``point`` column: ``"base"`` where the pipeline has no sweeps."""
    if "point" in runs:
        return runs
    return runs.assign(point=BASE_POINT)


def metric_columns(runs: pd.DataFrame) -> list[str]:
    """Every numeric column that measures a run (errors, costs, sizes, scores)."""
    return [
        column
        for column in runs.columns
        if column not in _NOT_METRICS
        and column not in GROUP + ATTRIBUTES
        and pd.api.types.is_numeric_dtype(runs[column])
        and not pd.api.types.is_bool_dtype(runs[column])
    ]


def bootstrap_median_interval(
    values: np.ndarray,
    rng: np.random.Generator,
    *,
    level: float = CI_LEVEL,
    n_resamples: int = N_RESAMPLES,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the median; NaN for fewer than two values.

    Infinite values (e.g. "not reached" as +inf) are ranked, not averaged: the quantiles
    use the lower/higher order statistic, so an interval end is +inf rather than NaN.
    """
    values = np.asarray(values, dtype=float)
    if values.size < 2:
        return float("nan"), float("nan")
    draws = rng.integers(0, values.size, size=(n_resamples, values.size))
    medians = np.median(values[draws], axis=1)
    tail = (1.0 - level) / 2.0
    low = np.quantile(medians, tail, method="lower")
    high = np.quantile(medians, 1.0 - tail, method="higher")
    return float(low), float(high)


def group_rng(seed: int, key: Sequence[object]) -> np.random.Generator:
    """An RNG that depends only on the seed and the group's name (stable across runs)."""
    return np.random.default_rng([seed, zlib.crc32(repr(tuple(key)).encode())])


def summarize_over_seeds(
    runs: pd.DataFrame,
    metrics: Sequence[str] | None = None,
    *,
    seed: int = 0,
    level: float = CI_LEVEL,
    n_resamples: int = N_RESAMPLES,
) -> pd.DataFrame:
    """One row per (experiment, model, point, metric): n_seeds, median, interval, min, max.

    NaN values (a metric a run lacks) are left out of that metric's figures, so ``n_seeds``
    is per metric. ``metric`` keeps the column's name, and with it its unit.
    """
    runs = with_point(runs)
    metrics = list(metric_columns(runs) if metrics is None else metrics)
    attributes = [a for a in ATTRIBUTES if a in runs]
    rows = []
    for key, group in runs.groupby(GROUP, sort=True, dropna=False):
        described = {name: group[name].iloc[0] for name in attributes}
        for metric in metrics:
            values = group[metric].to_numpy(dtype=float)
            values = values[~np.isnan(values)]
            low, high = bootstrap_median_interval(
                values, group_rng(seed, (*key, metric)), level=level, n_resamples=n_resamples
            )
            empty = values.size == 0
            rows.append(
                {
                    **dict(zip(GROUP, key, strict=True)),
                    **described,
                    "metric": metric,
                    "n_seeds": int(values.size),
                    "median": float("nan") if empty else float(np.median(values)),
                    "ci_low": low,
                    "ci_high": high,
                    "min": float("nan") if empty else float(values.min()),
                    "max": float("nan") if empty else float(values.max()),
                }
            )
    columns = GROUP + attributes + ["metric"] + STATISTICS
    return pd.DataFrame(rows, columns=columns)


def wide(statistics: pd.DataFrame, stats: Sequence[str] = ("median",)) -> pd.DataFrame:
    """One row per group, a column ``{metric}_{stat}`` per metric and statistic."""
    values = statistics.set_index(GROUP + ["metric"])[list(stats)].unstack("metric")
    values.columns = [f"{metric}_{stat}" for stat, metric in values.columns]
    attributes = [a for a in ATTRIBUTES if a in statistics]
    described = statistics.drop_duplicates(GROUP)[GROUP + attributes]
    return described.merge(values.reset_index(), on=GROUP, how="left").reset_index(drop=True)


def order_statistic_coverage(n_seeds: int, level: float = CI_LEVEL) -> float:
    """Coverage of the true median by the percentile-bootstrap interval of the median, for
    an odd number of independent seeds from any continuous distribution (exact)."""
    if n_seeds < 2 or n_seeds % 2 == 0:
        raise ValueError("exact only for an odd number of seeds >= 3")
    majority = (n_seeds + 1) // 2
    tail = (1.0 - level) / 2.0

    def below(j: int) -> float:  # P(resampled median <= x_(j))
        p = j / n_seeds
        return sum(
            comb(n_seeds, i) * p**i * (1 - p) ** (n_seeds - i) for i in range(majority, n_seeds + 1)
        )

    low = next(j for j in range(1, n_seeds + 1) if below(j) >= tail)
    high = next(j for j in range(1, n_seeds + 1) if below(j) >= 1.0 - tail)
    # The true median lies in [x_(low), x_(high)] iff low <= #(values below it) < high.
    return sum(comb(n_seeds, i) for i in range(low, high)) / 2**n_seeds


def representative(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (experiment, model) of a table with a ``point`` column: the ``"base"``
    point (the unswept configuration) where the model has one, else its most trained point
    (largest median training energy), else its first."""
    table = with_point(table)

    def pick(rows: pd.DataFrame) -> pd.DataFrame:
        base = rows[rows["point"] == BASE_POINT]
        if not base.empty:
            return base.iloc[:1]
        if "train_energy_kwh_median" in rows:
            return rows.loc[[rows["train_energy_kwh_median"].idxmax()]]
        return rows.iloc[:1]

    picked = [pick(rows) for _, rows in table.groupby(["experiment", "model"], sort=True)]
    return pd.concat(picked).reset_index(drop=True) if picked else table.iloc[:0]
