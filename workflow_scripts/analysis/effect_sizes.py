"""Effect sizes and exact tests over seeds, for the claims (claims.py).

- :func:`ratio_of_medians`: median(a) / median(b) with a percentile-bootstrap interval (each
  sample resampled on its own, as statistics.py does for one median). With 3 seeds a side the
  interval is [min a / max b, max a / min b]: it excludes 1 exactly when every seed of one lies
  beyond every seed of the other.
- :func:`rank_test_p`: the exact one-sided rank-sum (Wilcoxon-Mann-Whitney) p-value that a is
  lower than b, by enumerating every split of the pooled seeds (ties get mid-ranks, so +inf,
  "never reached", ranks last and ties with itself). Its smallest value is 1 / C(n_a + n_b,
  n_a): 1/20 = 0.05 at 3 seeds a side, 1/252 at 5.
- :func:`holm`: Holm's step-down adjustment of a family of p-values.
- :func:`kendall_tau` / :func:`rank_correlation`: Kendall's tau-b between a variant's physics
  prior (0, 1, 2) and a figure's median over its seeds, with a bootstrap interval (seeds
  resampled within each variant: it shows how much the seeds' noise moves tau, not how other
  variants would) and the exact permutation p-value over the variants (every assignment of the
  medians to the priors; 1/6 at best with three variants of distinct priors).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from math import comb

import numpy as np
import pandas as pd

from workflow_scripts.analysis.statistics import CI_LEVEL, N_RESAMPLES, group_rng

# Enumerating more splits than this would take seconds; far past any seed count in use.
_MAX_SPLITS = 2_000_000


@dataclass(frozen=True)
class Effect:
    """One comparison's effect size: an estimate with its interval (NaN with one seed) and a
    one-sided exact p-value for the direction the claim states. ``n_a``, ``n_b``: the seeds of
    each side (of a tau: the variants, and the fewest seeds of any)."""

    statistic: str
    estimate: float
    low: float
    high: float
    p_value: float
    n_a: int
    n_b: int

    @property
    def has_interval(self) -> bool:
        return not (math.isnan(self.low) or math.isnan(self.high))

    @property
    def size(self) -> float:
        """How far from no effect: |log ratio| for a ratio (1: none), |tau| for a tau (0)."""
        if self.statistic != "ratio of medians":
            return abs(self.estimate)
        if self.estimate <= 0 or math.isinf(self.estimate):
            return math.inf
        return abs(math.log(self.estimate))


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a / b, with inf / inf (neither reached) as 1 and 0 / 0 as 1: equal."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.asarray(a, dtype=float) / np.asarray(b, dtype=float)
    return np.where(np.isnan(ratio), 1.0, ratio)


def _percentile_interval(values: np.ndarray, level: float) -> tuple[float, float]:
    tail = (1.0 - level) / 2.0
    return (
        float(np.quantile(values, tail, method="lower")),
        float(np.quantile(values, 1.0 - tail, method="higher")),
    )


def ratio_of_medians(
    a: Sequence[float],
    b: Sequence[float],
    *,
    key: Sequence[object] = (),
    seed: int = 0,
    level: float = CI_LEVEL,
    n_resamples: int = N_RESAMPLES,
) -> tuple[float, float, float]:
    """median(a) / median(b) and its percentile-bootstrap interval (NaN where either sample
    has fewer than two values). ``key`` names the comparison: the resamples depend only on it
    and ``seed``."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    estimate = float(_ratio(np.median(a), np.median(b)))
    if a.size < 2 or b.size < 2:
        return estimate, math.nan, math.nan
    rng = group_rng(seed, ("ratio", *key))
    medians_a = np.median(a[rng.integers(0, a.size, (n_resamples, a.size))], axis=1)
    medians_b = np.median(b[rng.integers(0, b.size, (n_resamples, b.size))], axis=1)
    return (estimate, *_percentile_interval(_ratio(medians_a, medians_b), level))


def rank_test_p(a: Sequence[float], b: Sequence[float]) -> float:
    """Exact one-sided p-value of the rank-sum test that a tends to be lower than b: the share
    of all C(n_a + n_b, n_a) splits of the pooled values whose a-rank sum is at most the one
    observed."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.size == 0 or b.size == 0:
        return math.nan
    n = a.size + b.size
    if comb(n, a.size) > _MAX_SPLITS:
        raise ValueError(f"too many seeds to enumerate ({a.size} vs {b.size})")
    ranks = pd.Series(np.concatenate([a, b])).rank(method="average").to_numpy()
    observed = ranks[: a.size].sum()
    splits = np.fromiter(
        itertools.chain.from_iterable(itertools.combinations(range(n), a.size)), dtype=int
    ).reshape(-1, a.size)
    sums = ranks[splits].sum(axis=1)
    return float(np.mean(sums <= observed + 1e-9))


def smallest_p(n_a: int, n_b: int) -> float:
    """The smallest p-value :func:`rank_test_p` can give with these sample sizes."""
    return 1.0 / comb(n_a + n_b, n_a)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (NaN stays NaN and does not count in the family)."""
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full(p.shape, math.nan)
    present = np.flatnonzero(~np.isnan(p))
    order = present[np.argsort(p[present], kind="stable")]
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(order) - rank) * p[index]))
        adjusted[index] = running
    return adjusted.tolist()


def kendall_tau(x: Sequence[float], y: np.ndarray) -> np.ndarray | float:
    """Kendall's tau-b of x with y (ties in either allowed; NaN where one is constant); y may
    be a 2-D array, one tau per row."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    i, j = np.triu_indices(x.size, k=1)
    with np.errstate(invalid="ignore"):  # inf - inf: the two tie
        dx = np.nan_to_num(np.sign(x[i] - x[j]))
        dy = np.nan_to_num(np.sign(y[..., i] - y[..., j]))
    denominator = np.sqrt(np.count_nonzero(dx) * np.count_nonzero(dy, axis=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        tau = np.where(denominator > 0, np.sum(dx * dy, axis=-1) / denominator, np.nan)
    return float(tau) if tau.ndim == 0 else tau


def rank_correlation(
    strength: Sequence[float],
    samples: Sequence[Sequence[float]],
    *,
    expect_negative: bool,
    key: Sequence[object] = (),
    seed: int = 0,
    level: float = CI_LEVEL,
    n_resamples: int = N_RESAMPLES,
) -> Effect:
    """Kendall's tau between each variant's prior ``strength`` and the median of its
    ``samples`` (per-seed values), its bootstrap interval, and the exact permutation p-value
    of a tau at least as far in the expected direction."""
    strength = np.asarray(strength, dtype=float)
    samples = [np.asarray(s, dtype=float) for s in samples]
    medians = np.array([np.median(s) for s in samples])
    tau = kendall_tau(strength, medians)
    if math.isnan(tau):
        return Effect("Kendall tau", tau, math.nan, math.nan, math.nan, len(samples), 0)
    sign = -1.0 if expect_negative else 1.0
    orders = np.array(list(itertools.permutations(range(len(medians)))))
    permuted = kendall_tau(strength, medians[orders])
    p = float(np.mean(sign * permuted >= sign * tau - 1e-9))
    low = high = math.nan
    if min(s.size for s in samples) >= 2:
        rng = group_rng(seed, ("tau", *key))
        resampled = np.column_stack(
            [np.median(s[rng.integers(0, s.size, (n_resamples, s.size))], axis=1) for s in samples]
        )
        low, high = _percentile_interval(np.nan_to_num(kendall_tau(strength, resampled)), level)
    n_seeds = min(s.size for s in samples)
    return Effect("Kendall tau", tau, low, high, p, len(samples), n_seeds)
