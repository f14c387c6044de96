"""Regrid The Well ``shear_flow`` HDF5 files to a coarser grid and write a Zarr training store.

The stage is out-of-core: HDF5 datasets are wrapped as lazy dask arrays whose chunks each hold
one trajectory, a window of time steps and whole x-y planes, so coarsening (block mean or
Fourier truncation) is local to a chunk and memory stays bounded by a few chunks per thread,
whatever the size of the input. One dask computation reads each chunk once, coarsens it,
writes it to Zarr and reduces it to the moments behind the normalisation statistics. The store
is written to a hidden temporary sibling and renamed into place only once it and its
statistics are complete.

Reading: the lazy arrays hold picklable ``H5Slab`` readers (a path and a dataset name, no
open handle), so the same graph runs on threads, processes or a dask.distributed cluster.
Contiguous, uncompressed datasets (as ``write_well_file`` writes them) are read with
``os.preadv`` at their byte offset; chunked or compressed ones go through h5py.

Grids (The Well): x_j = j/Nx on [0, 1), y_j = -1 + 2j/Ny on [-1, 1), both periodic.

Coordinates after coarsening:
- ``spectral``: the truncated Fourier series is evaluated on the target grid x_j = x_0 + j*Lx/nx
  (x_j = j/nx, y_j = -1 + 2j/ny for The Well), the same convention as the source.
- ``block_mean``: each value is the mean of an fx-by-fy block of source points, which is the
  field at the block's centroid to second order. The coordinates are therefore the block
  centroids, x_j = j/nx + (fx - 1)/(2*Nx), i.e. the target grid shifted by half a coarse cell
  minus half a fine cell. Labelling them j/nx instead would be a first-order phase error. The
  grid is still uniform with spacing Lx/nx, so periodic (FFT) derivatives are unaffected; the
  shift is recorded in the attrs ``grid_offset_x`` / ``grid_offset_y`` (0 for spectral).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import shutil
import time
import uuid
import warnings
from collections.abc import Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any, Literal

import dask
import dask.array as da
import h5py
import numpy as np
import xarray as xr
import zarr
from zarr.codecs import BloscCodec

from workflow_scripts.data.well_format import validate_well_file, write_stats_yaml

log = logging.getLogger(__name__)

FIELDS: tuple[str, ...] = ("tracer", "pressure", "velocity_x", "velocity_y")
Method = Literal["block_mean", "spectral"]
METHODS: tuple[str, ...] = ("block_mean", "spectral")
LOCAL_SCHEDULERS: tuple[str, ...] = ("threads", "processes", "synchronous")
DISTRIBUTED_PREFIXES: tuple[str, ...] = ("tcp://", "tls://", "inproc://", "ucx://", "ws://")
STAT_KEYS: tuple[str, ...] = ("mean", "std", "rms", "mean_delta", "std_delta", "rms_delta")
# Source planes read per task, about: 32 planes of 256 x 512 float32 are 16 MiB per scalar
# field (32 MiB of velocity), big enough that per-task and per-Zarr-call overheads are small,
# small enough that a few tasks in flight per thread stay far below 1 GB.
READ_PLANES_PER_TASK = 32
DEFAULT_READ_TIME_CHUNK = 10
DEFAULT_STORE_TIME_CHUNK = 10
# Blosc LZ4 with byte shuffle: compresses smooth float32 fields as well as zstd (about 2.5x
# here) at several times its speed, for writing and for every training epoch's reads.
STORE_COMPRESSOR = BloscCodec(cname="lz4", clevel=5, shuffle="shuffle")


class RegridError(ValueError):
    """A request the regridding stage cannot honour; the message names the file or setting."""


# --------------------------------------------------------------------------------------------
# Lazy reading of HDF5 files
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class H5Slab:
    """A picklable, array-like view of one HDF5 dataset, for ``dask.array.from_array``.

    It holds only the path and the dataset name (no h5py handle, which cannot be pickled),
    so the same graph runs under threads, processes or a dask.distributed cluster: each read
    opens the file, reads the requested slab and closes it again (about 0.2 ms, negligible
    next to a multi-MiB chunk).

    Fast path: when the dataset is stored contiguously and uncompressed (``raw_offset`` is
    its byte offset in the file) and the slab is one contiguous byte range, as our chunks
    of whole planes are, the bytes are read with ``os.preadv`` straight into the result.
    This skips HDF5's read path, 2-3 times slower here on a cold cache, and releases the GIL
    while the disk works. Anything else goes through h5py.
    """

    path: str
    dataset: str
    shape: tuple[int, ...]
    dtype: np.dtype
    file_token: tuple[int, int]  # (size, mtime_ns): a changed file gets new dask keys
    raw_offset: int | None = None

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __getitem__(self, key: Any) -> np.ndarray:
        plan = self._raw_read_plan(key) if self.raw_offset is not None else None
        try:
            if plan is not None:
                first, shape, pick = plan
                return np.ascontiguousarray(self._read_raw(first, shape)[pick])
            # Default locking, as everywhere else: h5py refuses to open a file twice in one
            # process with different locking flags. (On file systems without locks, set
            # HDF5_USE_FILE_LOCKING=FALSE.)
            with h5py.File(self.path, "r") as handle:
                return np.asarray(handle[self.dataset][key])
        except OSError as error:
            raise OSError(f"{self.path}: cannot read {self.dataset}[{key}]: {error}") from error

    def _raw_read_plan(self, key: Any) -> tuple[int, tuple[int, ...], tuple[Any, ...]] | None:
        """How to serve ``key`` with one contiguous read: (first element, shape to read,
        index to apply to what was read), or None if it cannot be."""
        key = key if isinstance(key, tuple) else (key,)
        if len(key) > self.ndim:
            return None
        key = key + (slice(None),) * (self.ndim - len(key))
        is_int = [isinstance(k, int | np.integer) for k in key]
        # Integers on the trailing axes (dask fuses velocity[..., 0] into the read) are read
        # in full and picked afterwards: twice the bytes in one run beats HDF5's strided
        # gather several times over.
        n_trailing = len(is_int) - next(
            (i + 1 for i in reversed(range(len(is_int))) if not is_int[i]), 0
        )
        starts, lengths, pick = [], [], []
        for axis, (k, n) in enumerate(zip(key, self.shape, strict=True)):
            if is_int[axis]:
                index = int(k) + n if k < 0 else int(k)
                if not 0 <= index < n:
                    return None  # let h5py raise its usual error
                trailing = axis >= self.ndim - n_trailing
                starts.append(0 if trailing else index)
                lengths.append(n if trailing else 1)
                pick.append(index if trailing else 0)
            elif isinstance(k, slice):
                start, stop, step = k.indices(n)
                if step != 1:
                    return None
                starts.append(start)
                lengths.append(max(0, stop - start))
                pick.append(slice(None))
            else:
                return None
        # One run in C order: every axis after the last partial one is complete and every
        # axis before it has length 1.
        partial = [i for i, (m, n) in enumerate(zip(lengths, self.shape, strict=True)) if m != n]
        if partial and any(m != 1 for m in lengths[: partial[-1]]):
            return None
        strides = np.cumprod((*self.shape[1:], 1)[::-1])[::-1]
        return int(np.dot(starts, strides)), tuple(lengths), tuple(pick)

    def _read_raw(self, first: int, shape: tuple[int, ...]) -> np.ndarray:
        out = np.empty(shape, dtype=self.dtype)
        buffer = memoryview(out).cast("B")
        offset = self.raw_offset + first * self.dtype.itemsize
        fd = os.open(self.path, os.O_RDONLY)
        try:
            done = 0
            while done < buffer.nbytes:
                n = os.preadv(fd, [buffer[done:]], offset + done)
                if n == 0:
                    raise OSError(f"file ends {buffer.nbytes - done} bytes early (truncated?)")
                done += n
        finally:
            os.close(fd)
        return out

    def __dask_tokenize__(self) -> tuple[Any, ...]:
        return (type(self).__name__, self.path, self.dataset, self.file_token)


def _raw_offset(dset: h5py.Dataset) -> int | None:
    """Byte offset of a dataset's values if they lie contiguous and uncompressed in the
    file in native byte order (so they can be read directly), else None."""
    plist = dset.id.get_create_plist()
    if (
        not hasattr(os, "preadv")
        or plist.get_layout() != h5py.h5d.CONTIGUOUS
        or plist.get_external_count() > 0
        or not dset.dtype.isnative
    ):
        return None
    offset = dset.id.get_offset()  # None while no storage is allocated
    return None if offset is None else int(offset)


def _open_one(path: Path, time_chunk: int) -> dict[str, Any]:
    """Validate one file, read its small metadata eagerly and wrap its fields lazily."""
    # Raises WellFormatError naming the file: missing, truncated, not a shear_flow file.
    info = validate_well_file(path)
    stat = path.stat()
    token = (stat.st_size, stat.st_mtime_ns)
    try:
        with h5py.File(path, "r") as handle:
            tracer = handle["t0_fields/tracer"]
            pressure = handle["t0_fields/pressure"]
            velocity = handle["t1_fields/velocity"]
            n_traj, n_time, n_x, n_y = tracer.shape
            meta = {
                "time": np.asarray(handle["dimensions/time"][()]),
                "x": np.asarray(handle["dimensions/x"][()]),
                "y": np.asarray(handle["dimensions/y"][()]),
                "reynolds": info.reynolds,
                "schmidt": info.schmidt,
            }
            slabs = {
                name: H5Slab(
                    str(path),
                    dset.name.lstrip("/"),
                    tuple(dset.shape),
                    np.dtype(dset.dtype),
                    token,
                    _raw_offset(dset),
                )
                for name, dset in (
                    ("tracer", tracer),
                    ("pressure", pressure),
                    ("velocity", velocity),
                )
            }
    except (OSError, KeyError) as error:
        raise RegridError(f"{path}: not a readable Well file: {error}") from error

    planes = (n_x, n_y)
    arrays = {
        name: da.from_array(
            slabs[name],
            chunks=(1, time_chunk, *planes),
            lock=False,
            meta=np.empty((0, 0, 0, 0), slabs[name].dtype),
        )
        for name in ("tracer", "pressure")
    }
    # Read both velocity components in one contiguous slab and split in memory: an HDF5
    # selection on the last (size 2) axis is a strided gather, several times slower.
    velocity = da.from_array(
        slabs["velocity"],
        chunks=(1, time_chunk, *planes, 2),
        lock=False,
        meta=np.empty((0, 0, 0, 0, 0), slabs["velocity"].dtype),
    )
    arrays["velocity_x"] = velocity[..., 0]
    arrays["velocity_y"] = velocity[..., 1]
    return {"path": path, "n_traj": n_traj, "arrays": arrays, **meta}


def open_well_files(
    paths: Sequence[Path | str], *, time_chunk: int = DEFAULT_READ_TIME_CHUNK
) -> xr.Dataset:
    """Open Well ``shear_flow`` HDF5 files lazily as one Dataset along ``trajectory``.

    Dims (trajectory, time, x, y); data variables tracer, pressure, velocity_x, velocity_y
    (float32, dask, chunks of one trajectory x ``time_chunk`` steps x whole planes); coords
    time, x, y and per-trajectory reynolds, schmidt, file_index, trajectory_in_file (the
    file names are in ``attrs["source_files"]``). Each file is validated first; files must
    share the time and space grids.
    """
    if not paths:
        raise RegridError("no input HDF5 files given")
    if time_chunk < 1:
        raise RegridError(f"time_chunk must be a positive integer, not {time_chunk}")
    opened = [_open_one(Path(p), time_chunk) for p in paths]
    first = opened[0]
    for other in opened[1:]:
        for name in ("time", "x", "y"):
            if other[name].shape != first[name].shape or not np.allclose(other[name], first[name]):
                raise RegridError(
                    f"{other['path']}: its {name} grid (size {other[name].size}) differs from "
                    f"that of {first['path']} (size {first[name].size})"
                )

    data_vars = {
        name: (
            ("trajectory", "time", "x", "y"),
            da.concatenate([f["arrays"][name] for f in opened], axis=0),
            {"long_name": name},
        )
        for name in FIELDS
    }
    per_traj = {
        "reynolds": np.concatenate([np.full(f["n_traj"], f["reynolds"]) for f in opened]),
        "schmidt": np.concatenate([np.full(f["n_traj"], f["schmidt"]) for f in opened]),
        "file_index": np.concatenate(
            [np.full(f["n_traj"], i, dtype=np.int32) for i, f in enumerate(opened)]
        ),
        "trajectory_in_file": np.concatenate(
            [np.arange(f["n_traj"], dtype=np.int32) for f in opened]
        ),
    }
    coords = {
        "time": ("time", first["time"]),
        "x": ("x", first["x"]),
        "y": ("y", first["y"]),
        **{name: ("trajectory", values) for name, values in per_traj.items()},
    }
    attrs = {
        "source_files": [f["path"].name for f in opened],
        "grid_offset_x": 0.0,
        "grid_offset_y": 0.0,
    }
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)


# --------------------------------------------------------------------------------------------
# Coarsening
# --------------------------------------------------------------------------------------------


def block_mean_planes(planes: np.ndarray, nx: int, ny: int) -> np.ndarray:
    """Mean over (Nx/nx) x (Ny/ny) blocks of the last two axes, accumulated in float64."""
    *lead, n_src, m_src = planes.shape
    fx, fy = n_src // nx, m_src // ny
    # Add whole rows first (long contiguous vector adds, cast to float64 on the fly, no
    # float64 copy of the input), then the short runs along y: about 4x faster than one
    # reduction over both block axes.
    rows = planes.reshape(*lead, nx, fx, m_src).sum(axis=-2, dtype=np.float64)
    summed = rows.reshape(*lead, nx, ny, fy).sum(axis=-1)
    return (summed / (fx * fy)).astype(planes.dtype)


def _truncate_complex_axis(spec: np.ndarray, n_src: int, n_tgt: int) -> np.ndarray:
    """Keep the wavenumbers of axis -2 (full complex FFT order) that an n_tgt grid holds.

    For even n_tgt < n_src the target's Nyquist bin receives the sum of the source's +n/2
    and -n/2 coefficients: on the coarse grid both are the same function (-1)^j, so this is
    the exact sampling of the truncated series there (their sine part vanishes at grid
    points). Modes with |k| > n/2 are dropped, never folded back (no aliasing).
    """
    if n_tgt == n_src:
        return spec
    half = n_tgt // 2
    if n_tgt % 2:  # odd: |k| <= half, no Nyquist bin
        return np.concatenate([spec[..., : half + 1, :], spec[..., n_src - half :, :]], axis=-2)
    nyquist = spec[..., half : half + 1, :] + spec[..., n_src - half : n_src - half + 1, :]
    return np.concatenate([spec[..., :half, :], nyquist, spec[..., n_src - half + 1 :, :]], axis=-2)


def spectral_truncate_planes(planes: np.ndarray, nx: int, ny: int) -> np.ndarray:
    """Fourier-truncate doubly periodic fields on the last two axes to an nx x ny grid.

    Exact (to round-off) for fields band-limited to the target grid: the result is the
    truncated Fourier series sampled at x_j = x_0 + j*Lx/nx, y_j = y_0 + j*Ly/ny. Computed in
    float64 and returned in the input dtype.
    """
    n_src, m_src = planes.shape[-2:]
    # norm="forward": coefficients are grid-independent amplitudes, so no rescaling between
    # the source and target transforms.
    spec = np.fft.rfft2(planes.astype(np.float64), axes=(-2, -1), norm="forward")
    spec = _truncate_complex_axis(spec, n_src, nx)
    spec = spec[..., : ny // 2 + 1].copy()
    if ny % 2 == 0 and ny < m_src:
        # irfft counts the Nyquist bin once, but on the coarse grid the source's +ny/2 and
        # -ny/2 modes coincide: double it (irfft then keeps its real, cosine, part).
        spec[..., ny // 2] *= 2
    out = np.fft.irfft2(spec, s=(nx, ny), axes=(-2, -1), norm="forward")
    return out.astype(planes.dtype)


def _check_target(ds: xr.Dataset, nx: int, ny: int, method: str) -> tuple[int, int]:
    n_src, m_src = ds.sizes["x"], ds.sizes["y"]
    source = ", ".join(ds.attrs.get("source_files", [])) or "the input"
    where = f"source grid {n_src}x{m_src} of {source}"
    if method not in METHODS:
        raise RegridError(f"unknown regrid method {method!r}; choose one of {METHODS}")
    if nx < 1 or ny < 1:
        raise RegridError(f"target resolution {nx}x{ny} must be positive ({where})")
    if nx > n_src or ny > m_src:
        raise RegridError(
            f"target resolution {nx}x{ny} is larger than the {where}; regridding only coarsens"
        )
    if method == "block_mean" and (n_src % nx or m_src % ny):
        raise RegridError(
            f"block_mean: target resolution {nx}x{ny} does not divide the {where}; "
            f"choose nx dividing {n_src} and ny dividing {m_src}, or method 'spectral'"
        )
    return n_src, m_src


def _uniform_grid(coord: np.ndarray, n_tgt: int) -> np.ndarray:
    """The n_tgt-point periodic grid with the same origin and period as ``coord``."""
    spacing = (coord[-1] - coord[0]) / (coord.size - 1) if coord.size > 1 else 1.0
    period = spacing * coord.size
    return (coord[0] + period * np.arange(n_tgt) / n_tgt).astype(coord.dtype)


def coarsen(ds: xr.Dataset, nx: int, ny: int, method: Method = "block_mean") -> xr.Dataset:
    """Coarsen every (x, y) field of ``ds`` to nx x ny, lazily and chunk by chunk.

    ``block_mean`` needs nx | Nx and ny | Ny and conserves the mean exactly; ``spectral``
    keeps the Fourier modes that fit the target grid. See the module docstring for the
    coordinates each assigns. Non-spatial coordinates and attrs are kept.
    """
    n_src, m_src = _check_target(ds, nx, ny, method)
    func = partial(block_mean_planes if method == "block_mean" else spectral_truncate_planes,
                   nx=nx, ny=ny)  # fmt: skip
    data_vars = {}
    for name, var in ds.data_vars.items():
        if not {"x", "y"} <= set(var.dims):
            data_vars[name] = var.variable  # nothing to coarsen
            continue
        var = var.transpose(..., "x", "y")
        # One chunk along x and y: every chunk holds whole planes, so both methods are local.
        planes = da.asarray(var.data).rechunk({var.ndim - 2: -1, var.ndim - 1: -1})
        # map_blocks rather than apply_ufunc: the latter's blockwise concatenation copies
        # every input chunk once more.
        coarse = planes.map_blocks(
            func,
            chunks=(*planes.chunks[:-2], (nx,), (ny,)),
            dtype=planes.dtype,
            meta=np.empty((0,) * planes.ndim, planes.dtype),
        )
        data_vars[name] = (var.dims, coarse, var.attrs)
    x_src, y_src = ds["x"].values, ds["y"].values
    if method == "block_mean":
        fx, fy = n_src // nx, m_src // ny
        x_new = x_src.reshape(nx, fx).mean(axis=1).astype(x_src.dtype)
        y_new = y_src.reshape(ny, fy).mean(axis=1).astype(y_src.dtype)
    else:
        x_new, y_new = _uniform_grid(x_src, nx), _uniform_grid(y_src, ny)
    coords = {n: c.variable for n, c in ds.coords.items() if not {"x", "y"} & set(c.dims)}
    coords["x"] = xr.Variable("x", x_new, ds["x"].attrs)
    coords["y"] = xr.Variable("y", y_new, ds["y"].attrs)
    out = xr.Dataset(data_vars, coords=coords)
    out.attrs = {
        **ds.attrs,
        "regrid_method": method,
        "source_grid": [int(n_src), int(m_src)],
        "grid": [int(nx), int(ny)],
        "grid_offset_x": float(x_new[0] - _uniform_grid(x_src, nx)[0]),
        "grid_offset_y": float(y_new[0] - _uniform_grid(y_src, ny)[0]),
    }
    return out


# --------------------------------------------------------------------------------------------
# Zarr training store
# --------------------------------------------------------------------------------------------


def stats_path_for(store_path: Path | str) -> Path:
    """Default stats file of a store: ``train.zarr`` -> ``train.stats.yaml`` beside it."""
    store_path = Path(store_path)
    return store_path.with_name(f"{store_path.stem}.stats.yaml")


def _moments(values: np.ndarray) -> tuple[float, float, float]:
    """(count, mean, sum of squared deviations) of an array, in float64."""
    if values.size == 0:
        return 0.0, 0.0, 0.0
    mean = float(values.mean(dtype=np.float64))
    return float(values.size), mean, float(((values - mean) ** 2).sum(dtype=np.float64))


def _block_moments(block: np.ndarray, with_deltas: bool) -> np.ndarray:
    """Moments of one (trajectory, time, x, y) block and of its one-step time differences,
    shaped (1, 1, 1, 6) so that dask lays them out by block."""
    values = block.astype(np.float64)
    deltas = np.diff(values, axis=1) if with_deltas else values[:0]
    return np.array([*_moments(values), *_moments(deltas)]).reshape(1, 1, 1, 6)


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


def _lazy_block_moments(data: da.Array) -> tuple[da.Array, da.Array | None]:
    """Per-block moments of values and within-block deltas, and of the deltas that straddle
    two time blocks (None if there is a single time block). One small task per block."""
    per_block = _map_moments(data, with_deltas=True)
    block_starts = np.cumsum(data.chunks[1])[:-1]
    if block_starts.size == 0:
        return per_block, None
    # In float64, like the within-block differences.
    straddling = data[:, block_starts].astype(np.float64) - data[:, block_starts - 1]
    return per_block, _map_moments(straddling, with_deltas=False)


def _merge_moments(moments: np.ndarray) -> tuple[float, float, float]:
    """Combine rows of (count, mean, M2) into (mean, std, rms) (Chan et al.'s pairwise merge)."""
    count, means, m2 = moments.reshape(-1, 3).T
    total = count.sum()
    if total == 0:
        return math.nan, math.nan, math.nan
    mean = float((count * means).sum() / total)
    variance = float((m2 + count * (means - mean) ** 2).sum() / total)
    return mean, math.sqrt(variance), math.sqrt(variance + mean**2)


def _stats_from_moments(
    computed: dict[str, tuple[np.ndarray, np.ndarray | None]],
) -> dict[str, dict[str, float]]:
    stats: dict[str, dict[str, float]] = {key: {} for key in STAT_KEYS}
    for name, (per_block, straddling) in computed.items():
        values = per_block[..., :3]
        deltas = per_block[..., 3:]
        if straddling is not None:
            deltas = np.concatenate([deltas.reshape(-1, 3), straddling[..., :3].reshape(-1, 3)])
        for suffix, moments in (("", values), ("_delta", deltas)):
            mean, std, rms = _merge_moments(moments)
            stats[f"mean{suffix}"][name] = mean
            stats[f"std{suffix}"][name] = std
            stats[f"rms{suffix}"][name] = rms
    return stats


def normalisation_stats(ds: xr.Dataset) -> dict[str, dict[str, float]]:
    """Mean, std, rms of each field and of its one-step differences along time (float64).

    Laid out as The Well's stats.yaml, {statistic: {field: value}}, with one entry per data
    variable (velocity_x, velocity_y rather than a 2-list). Differences are taken within each
    trajectory. Computed from per-chunk moments in one dask.compute.
    """
    lazy = {name: _lazy_block_moments(da.asarray(ds[name].data)) for name in FIELDS}
    (computed,) = dask.compute(lazy)
    return _stats_from_moments(computed)


def write_training_store(
    ds: xr.Dataset,
    store_path: Path | str,
    *,
    time_chunk: int,
    overwrite: bool = False,
    stats_path: Path | str | None = None,
) -> Path:
    """Write the four fields of ``ds`` and its coordinates to a Zarr v3 store chunked for
    training, with normalisation statistics.

    Chunks are one trajectory x ``time_chunk`` steps x the whole plane (Blosc LZ4 with byte
    shuffle, flat chunk keys). A dask task writes one Zarr chunk or, when ``ds`` is chunked
    in multiples of ``time_chunk`` along time, several. The stats
    (see ``normalisation_stats``) are computed from the chunks as they are stored, in the
    same pass, and go into the store's attrs under ``"stats"`` and into ``stats_path``
    (default ``stats_path_for(store_path)``). Everything is written to hidden temporary
    siblings first; the store is renamed into place last, so a store that exists is complete
    and its stats file exists too. Returns the store path.
    """
    store_path = Path(store_path)
    stats_path = Path(stats_path) if stats_path is not None else stats_path_for(store_path)
    if time_chunk < 1:
        raise RegridError(f"time_chunk must be a positive integer, not {time_chunk}")
    if store_path.exists() and not overwrite:
        raise FileExistsError(f"{store_path}: store already exists (pass overwrite=True)")
    missing = [name for name in FIELDS if name not in ds.data_vars]
    if missing:
        raise RegridError(f"dataset lacks the fields {missing}; cannot write a training store")
    store_path.parent.mkdir(parents=True, exist_ok=True)
    stats_path.parent.mkdir(parents=True, exist_ok=True)

    # Dask chunks (one task, one write call) may span several Zarr chunks as long as their
    # boundaries fall on Zarr chunk boundaries; otherwise write chunk by chunk.
    dask_time = ds.chunksizes.get("time") if ds.chunks else None
    if not dask_time or any(size % time_chunk for size in dask_time[:-1]):
        dask_time = time_chunk
    # The four fields only: other data variables would be laid out but never written.
    chunked = ds[list(FIELDS)].chunk({"trajectory": 1, "time": dask_time, "x": -1, "y": -1})
    # Small per-trajectory coordinates (reynolds, schmidt, ...) as one chunk each, not
    # one file per trajectory.
    small = {n: c.variable.load() for n, c in chunked.coords.items() if n not in chunked.dims}
    chunked = chunked.assign_coords(small)
    for var in chunked.variables.values():
        var.encoding = {}  # stale encodings (chunks, codecs) from a source store would clash
    tmp = store_path.with_name(f".{store_path.name}.tmp-{uuid.uuid4().hex[:8]}")
    old = store_path.with_name(f".{store_path.name}.old-{uuid.uuid4().hex[:8]}")
    try:
        start = time.perf_counter()
        # xarray lays out the store (metadata, coordinates); the field chunks are then
        # written by dask.array.store, which hands each stored chunk on to the statistics:
        # one graph, so the source is read once. (Computing to_zarr's Delayed together with
        # separate reductions re-read part of the source.) The fields are float32 without
        # CF encoding, so what xarray would write is exactly the raw data.
        # Chunk keys "c.0.3.0.0" (one flat directory per variable) rather than the default
        # nested "c/0/3/0/0": creating and deleting thousands of directories costs more
        # than writing the small coarse chunks themselves.
        encoding = {
            "chunks": (1, time_chunk, chunked.sizes["x"], chunked.sizes["y"]),
            "chunk_key_encoding": {"name": "default", "separator": "."},
            "compressors": (STORE_COMPRESSOR,),
        }
        chunked.to_zarr(
            tmp,
            mode="w-",
            zarr_format=3,
            consolidated=False,
            compute=False,
            encoding={name: dict(encoding) for name in FIELDS},
        )
        group = zarr.open_group(tmp, mode="r+")
        stored = da.store(
            [chunked[name].data for name in FIELDS],
            [group[name] for name in FIELDS],
            lock=False,  # writes aligned on Zarr chunks never touch the same chunk
            compute=False,
            return_stored=True,
        )
        lazy = {name: _lazy_block_moments(data) for name, data in zip(FIELDS, stored, strict=True)}
        (computed,) = dask.compute(lazy)
        stats = _stats_from_moments(computed)
        log.info("wrote %s and its stats in %.1f s", tmp, time.perf_counter() - start)
        group.attrs.update({"stats": stats})
        with warnings.catch_warnings():
            # zarr warns that consolidated metadata is an extension to the v3 spec; xarray
            # reads it, and without it every plain xr.open_zarr(path) warns instead.
            warnings.filterwarnings("ignore", message="Consolidated metadata is currently not")
            zarr.consolidate_metadata(tmp)
        write_stats_yaml(stats, stats_path)  # atomic, fsync'd
        if store_path.exists():  # overwrite: a directory cannot be renamed onto a full one
            store_path.rename(old)
        tmp.rename(store_path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    log.info("store %s complete, stats in %s", store_path, stats_path)
    return store_path


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


@contextlib.contextmanager
def dask_scheduler(scheduler: str = "threads", num_workers: int | None = None) -> Iterator[None]:
    """Run the enclosed dask computations on a local scheduler or a dask.distributed cluster.

    ``scheduler`` is "threads", "processes", "synchronous" or the address of a running
    dask.distributed scheduler ("tcp://host:8786"); ``num_workers`` applies to local pools.
    """
    if scheduler in LOCAL_SCHEDULERS:
        with dask.config.set(scheduler=scheduler, num_workers=num_workers):
            yield
        return
    if scheduler.startswith(DISTRIBUTED_PREFIXES):
        from distributed import Client  # optional: only needed for a cluster

        # Closing a Client that connected to an address leaves the cluster running.
        with Client(scheduler, set_as_default=False) as client:
            with dask.config.set(scheduler=client):
                yield
        return
    raise RegridError(
        f"unknown dask scheduler {scheduler!r}: use one of {LOCAL_SCHEDULERS} or the address "
        "of a dask.distributed scheduler such as tcp://host:8786"
    )


def regrid_well_files(
    paths: Sequence[Path | str],
    store_path: Path | str,
    *,
    nx: int,
    ny: int,
    method: Method = "block_mean",
    time_chunk: int = DEFAULT_STORE_TIME_CHUNK,
    read_time_chunk: int | None = None,
    scheduler: str = "threads",
    num_workers: int | None = None,
    overwrite: bool = False,
    stats_path: Path | str | None = None,
) -> Path:
    """Regrid Well HDF5 files to nx x ny with ``method`` and write a Zarr training store.

    ``time_chunk`` is the store's chunk length in time (training access). Each task reads
    ``read_time_chunk`` steps, by default the multiple of ``time_chunk`` nearest to
    ``READ_PLANES_PER_TASK`` (at least one), so tasks never straddle a store chunk and no
    rechunking sits between reading and writing. ``scheduler``: see ``dask_scheduler``.
    Returns the store path; the stats are in its attrs and in ``stats_path`` (default
    ``stats_path_for(store_path)``).
    """
    if time_chunk < 1:
        raise RegridError(f"time_chunk must be a positive integer, not {time_chunk}")
    if read_time_chunk is None:
        read_time_chunk = time_chunk * max(1, round(READ_PLANES_PER_TASK / time_chunk))
    if read_time_chunk < 1 or read_time_chunk % time_chunk:
        raise RegridError(
            f"read_time_chunk ({read_time_chunk}) must be a multiple of time_chunk ({time_chunk})"
        )
    start = time.perf_counter()
    with dask_scheduler(scheduler, num_workers):
        source = open_well_files(paths, time_chunk=read_time_chunk)
        coarse = coarsen(source, nx, ny, method)
        store = write_training_store(
            coarse, store_path, time_chunk=time_chunk, overwrite=overwrite, stats_path=stats_path
        )
    log.info(
        "regridded %d file(s), %d trajectories, %s -> %dx%d (%s) in %.1f s (pid %d)",
        len(paths),
        source.sizes["trajectory"],
        f"{source.sizes['x']}x{source.sizes['y']}",
        nx,
        ny,
        method,
        time.perf_counter() - start,
        os.getpid(),
    )
    return store
