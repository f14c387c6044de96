"""Normalisation statistics of a training store, from per-chunk moments in one dask pass.

Mean, std and rms of each field and of its one-step differences along time (within each
trajectory), in float64, laid out as The Well's stats.yaml ``{statistic: {field: value}}``
with one entry per data variable (velocity_x, velocity_y rather than a 2-list). Each chunk is
reduced to (count, mean, M2) by one small task; the rows are merged by
``moments.merge_moments``, the same merge as the source stats.yaml's.
"""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import xarray as xr

from workflow_scripts.data.moments import block_moments, merge_moments, summarise
from workflow_scripts.data.well_format import STATS_KEYS
from workflow_scripts.physics.fields import FIELD_NAMES

LazyMoments = tuple[da.Array, da.Array | None]


def _block_moments(block: np.ndarray, with_deltas: bool) -> np.ndarray:
    """Moments of one (trajectory, time, x, y) block and of its one-step time differences,
    shaped (1, 1, 1, 6) so that dask lays them out by block."""
    values = block.astype(np.float64)
    deltas = np.diff(values, axis=1) if with_deltas else values[:0]
    return np.concatenate([block_moments(values), block_moments(deltas)]).reshape(1, 1, 1, 6)


def _map_moments(data: da.Array, with_deltas: bool) -> da.Array:
    # Whole planes per block (as coarsen and the store guarantee) so the output chunks can
    # be declared without dropping axes, which would make dask concatenate each block.
    data = data.rechunk({2: -1, 3: -1})
    return data.map_blocks(
        _block_moments,
        with_deltas=with_deltas,
        dtype=np.float64,
        chunks=((1,) * data.numblocks[0], (1,) * data.numblocks[1], (1,), (6,)),
        meta=np.empty((0, 0, 0, 0), np.float64),
    )


def lazy_block_moments(data: da.Array) -> LazyMoments:
    """Per-block moments of values and within-block deltas, and of the deltas that straddle
    two time blocks (None if there is a single time block). One small task per block."""
    per_block = _map_moments(data, with_deltas=True)
    block_starts = np.cumsum(data.chunks[1])[:-1]
    if block_starts.size == 0:
        return per_block, None
    # In float64, like the within-block differences.
    straddling = data[:, block_starts].astype(np.float64) - data[:, block_starts - 1]
    return per_block, _map_moments(straddling, with_deltas=False)


def stats_from_moments(
    computed: dict[str, tuple[np.ndarray, np.ndarray | None]],
) -> dict[str, dict[str, float]]:
    """The stats.yaml content from the computed ``lazy_block_moments`` of each field."""
    stats: dict[str, dict[str, float]] = {key: {} for key in STATS_KEYS}
    for name, (per_block, straddling) in computed.items():
        values = per_block[..., :3].reshape(-1, 3)
        deltas = per_block[..., 3:].reshape(-1, 3)
        if straddling is not None:
            deltas = np.concatenate([deltas, straddling[..., :3].reshape(-1, 3)])
        for suffix, moments in (("", values), ("_delta", deltas)):
            mean, std, rms = summarise(merge_moments(moments))
            stats[f"mean{suffix}"][name] = mean
            stats[f"std{suffix}"][name] = std
            stats[f"rms{suffix}"][name] = rms
    return stats


def normalisation_stats(ds: xr.Dataset) -> dict[str, dict[str, float]]:
    """The statistics of the four fields of ``ds`` (see the module docstring), in one
    dask.compute."""
    lazy = {name: lazy_block_moments(da.asarray(ds[name].data)) for name in FIELD_NAMES}
    (computed,) = dask.compute(lazy)
    return stats_from_moments(computed)
