"""Snakemake adapter: rule simulate_shear_flow."""

from pathlib import Path

import checkout_on_path  # noqa: F401  (first: makes workflow_scripts importable)

from workflow_scripts.energy import CarbonSettings, warm_up_energy_tracking
from workflow_scripts.logs import logging_to

smk = snakemake  # noqa: F821
carbon = CarbonSettings.from_config(smk.params.carbon)
warm_up_energy_tracking(carbon)  # overlaps codecarbon's hardware probe with the torch import

with logging_to(smk.log[0]):  # import errors, too, belong in the job's log
    from workflow_scripts.data.stages import simulate_file

    simulate_file(
        Path(smk.output.well),
        split=smk.wildcards.split,
        settings=smk.params.settings,
        carbon=carbon,
        cost=Path(smk.output.cost),
        emissions=Path(smk.output.emissions),
        device_name=smk.params.device,
        threads=smk.threads,
    )
