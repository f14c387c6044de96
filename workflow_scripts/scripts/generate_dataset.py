"""Snakemake adapter: rule generate_dataset."""

from pathlib import Path

import checkout_on_path  # noqa: F401  (first: makes workflow_scripts importable)

from workflow_scripts.energy import CarbonSettings, warm_up_energy_tracking

smk = snakemake  # noqa: F821
carbon = CarbonSettings.from_config(smk.params.carbon)
warm_up_energy_tracking(carbon)  # overlaps codecarbon's hardware probe with the imports

from workflow_scripts.data.pointwise import generate_dataset  # noqa: E402
from workflow_scripts.logs import logging_to  # noqa: E402

with logging_to(smk.log[0]):
    generate_dataset(
        smk.wildcards.experiment,
        smk.params.data,
        dataset_path=Path(smk.output.dataset),
        cost_path=Path(smk.output.cost),
        emissions_path=Path(smk.output.emissions),
        carbon=carbon,
    )
