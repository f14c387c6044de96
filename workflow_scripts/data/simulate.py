"""Source 1 of the shear-flow data: a small look-alike of The Well's `shear_flow`, simulated.

Each (Re, Sc) pair gets the 40 initial conditions of the generation code (n_shear x n_blobs x
width), shuffled once per pair and dealt out to train, valid and test without overlap, as in
the real dataset (32 / 4 / 4 of 40). Files are written in The Well's layout and names.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from workflow_scripts.data.sources import INITIAL_CONDITIONS, SPLITS
from workflow_scripts.data.well_format import (
    REYNOLDS_NUMBERS,
    SCHMIDT_NUMBERS,
    WellFileInfo,
    validate_well_file,
    write_well_file,
)
from workflow_scripts.physics.fields import FIELD_NAMES
from workflow_scripts.physics.shear_flow import initial_condition, simulate
from workflow_scripts.physics.spectral import grid
from workflow_scripts.runtime import DTYPES

log = logging.getLogger(__name__)


def initial_conditions_for(
    reynolds: float, schmidt: float, split: str, trajectories: dict[str, int], seed: int
) -> list[tuple[int, int, float]]:
    """The initial conditions of one file: a per-pair shuffle, dealt out to the splits in order."""
    if sum(trajectories[s] for s in SPLITS) > len(INITIAL_CONDITIONS):
        raise ValueError(
            f"trajectories per split {trajectories} exceed the {len(INITIAL_CONDITIONS)} initial "
            "conditions of a parameter pair"
        )
    pair_index = (REYNOLDS_NUMBERS.index(reynolds), SCHMIDT_NUMBERS.index(schmidt))
    order = np.random.default_rng([seed, *pair_index]).permutation(len(INITIAL_CONDITIONS))
    start = sum(trajectories[s] for s in SPLITS[: SPLITS.index(split)])
    return [INITIAL_CONDITIONS[i] for i in order[start : start + trajectories[split]]]


def simulate_well_file(
    path: Path,
    *,
    reynolds: float,
    schmidt: float,
    split: str,
    settings: dict[str, Any],
    device: torch.device,
) -> WellFileInfo:
    """Simulate every trajectory of one (split, Re, Sc) file in one batch and write it."""
    nx, ny = settings["nx"], settings["ny"]
    dtype = DTYPES[settings["dtype"]]
    conditions = initial_conditions_for(
        reynolds, schmidt, split, settings["trajectories"], settings["seed"]
    )
    log.info(
        "%s Re=%g Sc=%g: %d trajectories %s at %dx%d, %d snapshots",
        split,
        reynolds,
        schmidt,
        len(conditions),
        conditions,
        nx,
        ny,
        settings["n_snapshots"],
    )
    initial = [initial_condition(nx, ny, *c, dtype=dtype, device=device) for c in conditions]
    batch = {name: torch.stack([ic[name] for ic in initial]) for name in FIELD_NAMES}
    fields = simulate(
        batch,
        reynolds=torch.full((len(conditions),), reynolds, dtype=dtype, device=device),
        schmidt=torch.full((len(conditions),), schmidt, dtype=dtype, device=device),
        n_snapshots=settings["n_snapshots"],
        snapshot_dt=settings["snapshot_dt"],
        cfl=settings["cfl"],
        dealias=settings["dealias"],
        hyperviscosity=settings["hyperviscosity"],
        progress=True,
    )
    x, y = grid(nx, ny, dtype=torch.float64)
    arrays = {name: fields[name].to(torch.float32).cpu().numpy() for name in FIELD_NAMES}
    write_well_file(
        path,
        **arrays,
        time=np.arange(settings["n_snapshots"]) * settings["snapshot_dt"],
        x=x[:, 0].numpy(),
        y=y[0, :].numpy(),
        reynolds=reynolds,
        schmidt=schmidt,
    )
    return validate_well_file(
        path, expected_shape=(len(conditions), settings["n_snapshots"], nx, ny)
    )
