"""Data stage of the PINN-family experiments: the point sets, written to dataset.nc."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from workflow_scripts.data.cost import measured_data_stage
from workflow_scripts.energy import CarbonSettings
from workflow_scripts.files import atomic_path


def pointwise_dataset(
    coordinates: tuple[str, ...],
    *,
    observations: tuple[np.ndarray, np.ndarray],
    conditions: tuple[np.ndarray, np.ndarray],
    collocation: np.ndarray,
    validation: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    attrs: dict,
    test_is_extrapolation: np.ndarray | None = None,
) -> xr.Dataset:
    """Pack the point sets of a pointwise experiment into one self-describing Dataset.

    ``validation`` is what training tracks (learning curve, early stop), ``test`` what the
    evaluation scores once; they share no point. ``test_is_extrapolation`` marks the test
    points beyond the observed window, where the evaluation also scores them on their own.
    """

    def points(name: str, inputs: np.ndarray) -> xr.DataArray:
        return xr.DataArray(np.asarray(inputs, dtype=np.float64), dims=(name, "coordinate"))

    def values(name: str, targets: np.ndarray) -> xr.DataArray:
        return xr.DataArray(np.asarray(targets, dtype=np.float64).reshape(-1), dims=(name,))

    dataset = xr.Dataset(
        {
            "observation_inputs": points("observation", observations[0]),
            "observation_values": values("observation", observations[1]),
            "condition_inputs": points("condition", conditions[0]),
            "condition_values": values("condition", conditions[1]),
            "collocation_inputs": points("collocation", collocation),
            "validation_inputs": points("validation", validation[0]),
            "validation_values": values("validation", validation[1]),
            "test_inputs": points("test", test[0]),
            "test_values": values("test", test[1]),
        },
        coords={"coordinate": list(coordinates)},
        attrs=attrs,
    )
    if test_is_extrapolation is not None:
        dataset["test_is_extrapolation"] = ("test", np.asarray(test_is_extrapolation, dtype=bool))
    return dataset


def midpoints(grid: np.ndarray) -> np.ndarray:
    """The points halfway between consecutive values of a 1-D grid: the grid offset by half a
    spacing, over the same window, sharing no point with it (a validation grid beside a test
    grid)."""
    return (grid[1:] + grid[:-1]) / 2


def write_dataset(dataset: xr.Dataset, path: Path) -> None:
    with atomic_path(path) as tmp:
        dataset.to_netcdf(tmp, engine="h5netcdf")


def generate_dataset(
    make_dataset: Callable[[dict[str, Any]], xr.Dataset],
    data_settings: dict[str, Any],
    *,
    dataset_path: Path,
    cost_path: Path,
    emissions_path: Path,
    carbon: CarbonSettings,
) -> None:
    """Make the experiment's point sets (its card's ``make_dataset``) under an energy meter."""
    with measured_data_stage("data", carbon, emissions_path, cost_path) as facts:
        dataset = make_dataset(data_settings)
        write_dataset(dataset, dataset_path)
        facts["points"] = {name: int(size) for name, size in dataset.sizes.items()}
