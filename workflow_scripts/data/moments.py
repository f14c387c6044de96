"""Streaming moments (count, mean, sum of squared deviations) and their pairwise merge.

The one implementation behind both statistics files: the source stats.yaml of The Well's
layout (``well_format.compute_stats``, block by block over HDF5 files) and the training
store's normalisation statistics (``normalisation``, chunk by chunk in a dask graph). Chan et
al.'s merge keeps the variance exact in float64 whatever the number or size of the blocks; a
running sum of squares minus the squared mean would cancel catastrophically for fields far
from zero mean.
"""

from __future__ import annotations

import math

import numpy as np


def block_moments(values: np.ndarray, n_components: int | None = None) -> np.ndarray:
    """(count, mean, M2) of an array, in float64: shape (3,), or (3, n_components) with the
    trailing axis of ``values`` kept apart (the velocity's 2 components)."""
    data = np.asarray(values, dtype=np.float64)
    data = data.reshape(-1) if n_components is None else data.reshape(-1, n_components)
    count = data.shape[0]
    if count == 0:
        return np.zeros((3,) + data.shape[1:])
    mean = data.mean(axis=0)
    m2 = ((data - mean) ** 2).sum(axis=0)
    return np.stack([np.full_like(mean, count), mean, m2])


def merge_moments(moments: np.ndarray) -> np.ndarray:
    """Merge rows of (count, mean, M2) along axis 0 into one (count, mean, M2) (Chan et al.).

    ``moments`` is (rows, 3, ...); trailing axes are merged independently. Rows with count 0
    contribute nothing; if all are empty the mean and M2 are 0.
    """
    moments = np.asarray(moments, dtype=np.float64)
    count, means, m2 = moments[:, 0], moments[:, 1], moments[:, 2]
    total = count.sum(axis=0)
    safe = np.where(total > 0, total, 1.0)
    mean = (count * means).sum(axis=0) / safe
    merged_m2 = (m2 + count * (means - mean) ** 2).sum(axis=0)
    return np.stack([total, mean, merged_m2])


def summarise(moments: np.ndarray) -> tuple[float, float, float]:
    """(mean, std, rms) of scalar (count, mean, M2); NaN for no data."""
    count, mean, m2 = (float(v) for v in np.asarray(moments).reshape(3))
    if count == 0:
        return math.nan, math.nan, math.nan
    variance = m2 / count
    return mean, math.sqrt(variance), math.sqrt(variance + mean**2)


class RunningMoments:
    """(count, mean, M2) updated block by block, per trailing component if ``n_components``."""

    def __init__(self, n_components: int | None = None) -> None:
        self.n_components = n_components
        self.moments = np.zeros((3,) if n_components is None else (3, n_components))

    def update(self, block: np.ndarray) -> None:
        new = block_moments(block, self.n_components)
        self.moments = merge_moments(np.stack([self.moments, new]))

    @property
    def count(self) -> int:
        return int(np.ravel(self.moments[0])[0])

    def result(self) -> tuple[float | list[float], float | list[float], float | list[float]]:
        """(mean, std, rms), floats or one list per component."""
        if self.count == 0:
            raise ValueError("no data to compute statistics from")
        if self.n_components is None:
            return summarise(self.moments)
        columns = [summarise(self.moments[:, i]) for i in range(self.n_components)]
        mean, std, rms = ([c[k] for c in columns] for k in range(3))
        return mean, std, rms
