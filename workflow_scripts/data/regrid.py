"""Regrid The Well ``shear_flow`` HDF5 files to a coarser grid and write a Zarr training store.

The stage is out-of-core: the HDF5 datasets are lazy dask arrays whose chunks each hold one
trajectory, a window of time steps and whole x-y planes (``well_reader``), so coarsening
(``coarsening``: block mean or Fourier truncation) is local to a chunk and memory stays bounded
by a few chunks per thread, whatever the size of the input. One dask computation reads each
chunk once, coarsens it, writes it to Zarr (``zarr_store``) and reduces it to the moments behind
the normalisation statistics (``normalisation``), on the scheduler ``scheduler`` picks. The
store is written to a hidden temporary sibling and renamed into place only once it and its
statistics are complete.

This module is the entry point the rule ``regrid_shear_flow`` calls (through
``stages.regrid_split``); each concern lives in the module named above.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from workflow_scripts.data.coarsening import Method, coarsen
from workflow_scripts.data.errors import RegridError
from workflow_scripts.data.scheduler import dask_scheduler
from workflow_scripts.data.well_reader import open_well_files
from workflow_scripts.data.zarr_store import DEFAULT_STORE_TIME_CHUNK, write_training_store

log = logging.getLogger(__name__)

# Source planes read per task, about: 32 planes of 256 x 512 float32 are 16 MiB per scalar
# field (32 MiB of velocity), big enough that per-task and per-Zarr-call overheads are small,
# small enough that a few tasks in flight per thread stay far below 1 GB.
READ_PLANES_PER_TASK = 32


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
    slurm: Mapping[str, Any] | None = None,
    overwrite: bool = False,
    stats_path: Path | str | None = None,
) -> Path:
    """Regrid Well HDF5 files to nx x ny with ``method`` and write a Zarr training store.

    ``time_chunk`` is the store's chunk length in time (training access). Each task reads
    ``read_time_chunk`` steps, by default the multiple of ``time_chunk`` nearest to
    ``READ_PLANES_PER_TASK`` (at least one), so tasks never straddle a store chunk and no
    rechunking sits between reading and writing. ``scheduler`` (and ``slurm``, its settings
    when it is "slurm"): see ``dask_scheduler``.
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
    with dask_scheduler(scheduler, num_workers, slurm):
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
