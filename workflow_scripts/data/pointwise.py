"""Data stage of the PINN-family experiments: sample points, write dataset.nc."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workflow_scripts.data.cost import measured_data_stage
from workflow_scripts.energy import CarbonSettings
from workflow_scripts.experiments import dataset_maker
from workflow_scripts.experiments.pointwise import write_dataset


def generate_dataset(
    experiment: str,
    data_settings: dict[str, Any],
    *,
    dataset_path: Path,
    cost_path: Path,
    emissions_path: Path,
    carbon: CarbonSettings,
) -> None:
    with measured_data_stage("data", carbon, emissions_path, cost_path) as facts:
        dataset = dataset_maker(experiment)(data_settings)
        write_dataset(dataset, dataset_path)
        facts["points"] = {name: int(size) for name, size in dataset.sizes.items()}
