"""The shear-flow data stages as the rules call them: each measured, each writing atomically."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from workflow_scripts.data.cost import measured_data_stage
from workflow_scripts.data.download import default_check, download_file
from workflow_scripts.data.well_format import (
    compute_stats,
    parse_well_file_name,
    validate_stats_file,
    write_stats_yaml,
)
from workflow_scripts.energy import CarbonSettings

log = logging.getLogger(__name__)


def simulate_file(
    path: Path,
    *,
    split: str,
    settings: dict[str, Any],
    carbon: CarbonSettings,
    cost: Path,
    emissions: Path,
    device_name: str,
    threads: int,
) -> None:
    """Simulate one (split, Re, Sc) file of the look-alike dataset, under an energy meter.

    ``threads``: what the scheduler granted (the rule's params leave ``simulate.threads`` out).
    """
    from workflow_scripts.data.simulate import simulate_well_file
    from workflow_scripts.runtime import resolve_device, set_threads

    reynolds, schmidt = parse_well_file_name(path)
    device = resolve_device(device_name)
    set_threads(threads)
    with measured_data_stage(
        "simulate", carbon, emissions, cost, split=split, reynolds=reynolds, schmidt=schmidt
    ) as facts:
        info = simulate_well_file(
            Path(path),
            reynolds=reynolds,
            schmidt=schmidt,
            split=split,
            settings=settings,
            device=device,
        )
        facts.update(
            trajectories=info.n_trajectories,
            snapshots=info.n_time,
            grid=[info.nx, info.ny],
            bytes=Path(path).stat().st_size,
        )


def write_source_stats(
    train_files: Sequence[Path],
    stats: Path,
    *,
    carbon: CarbonSettings,
    cost: Path,
    emissions: Path,
) -> None:
    """stats.yaml of The Well's layout, from the train split (as the real dataset's), under an
    energy meter: it reads every train file in full."""
    with measured_data_stage(
        "source_stats", carbon, emissions, cost, files=len(train_files)
    ) as facts:
        write_stats_yaml(compute_stats(train_files), stats)
        facts["bytes_in"] = sum(Path(f).stat().st_size for f in train_files)


def download_source_file(
    path: Path,
    *,
    dest_root: Path,
    base_url: str,
    retries: int,
    backoff_s: float,
    timeout_s: float,
) -> None:
    """Fetch one file of the official layout to ``path`` (under ``dest_root``), verified."""
    relative = PurePosixPath(Path(path).relative_to(dest_root).as_posix())
    url = f"{base_url.rstrip('/')}/{relative}"
    log.info("downloading %s -> %s", url, path)
    download_file(
        url,
        path,
        check=default_check(relative),
        retries=retries,
        backoff_s=backoff_s,
        timeout_s=timeout_s,
    )


def regrid_split(
    files: Sequence[Path],
    source_stats: Path,
    *,
    store: Path,
    store_stats: Path,
    settings: dict[str, Any],
    carbon: CarbonSettings,
    cost: Path,
    emissions: Path,
    scheduler: str = "threads",
    threads: int | None = None,
    slurm: dict[str, Any] | None = None,
) -> None:
    """Regrid one split of either source to the training store, under an energy meter.

    ``scheduler``: Dask's (see :func:`regrid_well_files`), with ``slurm`` its settings when it
    is "slurm"; ``threads``: the local Dask pool's workers (what Snakemake granted); all cores
    if None. On a distributed scheduler the cost file says, in ``energy_note``, that the meter
    saw only this job's node, not the workers'.
    """
    from workflow_scripts.data.regrid import regrid_well_files
    from workflow_scripts.data.scheduler import LOCAL_SCHEDULERS

    validate_stats_file(source_stats)
    note = {} if scheduler in LOCAL_SCHEDULERS else {"energy_note": remote_workers_note(scheduler)}
    with measured_data_stage(
        "regrid",
        carbon,
        emissions,
        cost,
        files=len(files),
        method=settings["method"],
        grid=[settings["nx"], settings["ny"]],
        scheduler=scheduler,
        **note,
    ) as facts:
        regrid_well_files(
            files,
            store,
            nx=settings["nx"],
            ny=settings["ny"],
            method=settings["method"],
            time_chunk=settings["time_chunk"],
            scheduler=scheduler,
            num_workers=threads,
            slurm=slurm,
            overwrite=True,
            stats_path=store_stats,
        )
        facts["bytes_in"] = sum(Path(f).stat().st_size for f in files)


def remote_workers_note(scheduler: str) -> str:
    """What the regrid's energy reading covers when Dask's workers are not this job's own."""
    where = (
        "as SLURM jobs (data.regrid.scheduler: slurm)"
        if scheduler == "slurm"
        else (f"under the dask.distributed scheduler at {scheduler}")
    )
    return (
        f"partial: the Dask workers ran {where}, as processes not started by this job. "
        "codecarbon metered this job's node only: the machine-wide reading includes workers "
        "only where they shared this node; the process-attributed figure and data_cpu_time_s "
        "never include them. Work on other nodes (reading, regridding, writing the store) is "
        "not metered, so data_energy_kwh is a lower bound of the stage's energy."
    )
