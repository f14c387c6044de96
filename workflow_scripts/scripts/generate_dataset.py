"""Snakemake adapter: rule generate_dataset."""

from pathlib import Path

import checkout_on_path  # noqa: F401  (first: makes workflow_scripts importable)

from workflow_scripts.energy import CarbonSettings, warm_up_energy_tracking
from workflow_scripts.logs import logging_to

smk = snakemake  # noqa: F821
# The meter's settings are the params (a rerun trigger); the rest of the carbon block (the
# shared-machine threshold of the job's flag) only labels the job's JSON, so it comes from the
# config, which triggers nothing.
carbon = CarbonSettings.from_config({**smk.config.get("carbon", {}), **smk.params.carbon})
warm_up_energy_tracking(carbon)  # overlaps codecarbon's hardware probe with the imports

with logging_to(smk.log[0]):  # import errors, too, belong in the job's log
    from workflow_scripts.data.pointwise import generate_dataset
    from workflow_scripts.experiments import dataset_maker

    generate_dataset(
        dataset_maker(smk.wildcards.experiment),
        smk.params.data,
        dataset_path=Path(smk.output.dataset),
        cost_path=Path(smk.output.cost),
        emissions_path=Path(smk.output.emissions),
        carbon=carbon,
    )
