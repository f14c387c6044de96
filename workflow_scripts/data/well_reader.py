"""Lazy reading of Well ``shear_flow`` HDF5 files as dask arrays, chunk by chunk.

The lazy arrays hold picklable ``H5Slab`` readers (a path and a dataset name, no open handle),
so the same graph runs on threads, processes or a dask.distributed cluster. Each chunk holds one
trajectory, a window of time steps and whole x-y planes. Contiguous, uncompressed datasets (as
``write_well_file`` writes them) are read with ``os.preadv`` at their byte offset; chunked or
compressed ones go through h5py. Every failed read names the file and the rule that makes it.

Grids (The Well): x_j = j/Nx on [0, 1), y_j = -1 + 2j/Ny on [-1, 1), both periodic.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dask.array as da
import h5py
import numpy as np
import xarray as xr

from workflow_scripts.data.errors import RegridError
from workflow_scripts.data.provenance import remedy, source_rule
from workflow_scripts.data.well_format import validate_well_file
from workflow_scripts.physics.fields import FIELD_NAMES

DEFAULT_READ_TIME_CHUNK = 10


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
            raise OSError(
                f"{self.path}: cannot read {self.dataset}[{key}]: {error} "
                f"({remedy(source_rule(self.path))})"
            ) from error

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
        raise RegridError(
            f"{path}: not a readable Well file: {error} ({remedy(source_rule(path))})"
        ) from error

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
        for name in FIELD_NAMES
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
