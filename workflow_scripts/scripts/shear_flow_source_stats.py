"""Snakemake adapter: rule shear_flow_source_stats."""

from pathlib import Path

import checkout_on_path  # noqa: F401  (first: makes workflow_scripts importable)

from workflow_scripts.energy import CarbonSettings, warm_up_energy_tracking
from workflow_scripts.logs import logging_to

smk = snakemake  # noqa: F821
carbon = CarbonSettings.from_config(smk.params.carbon)
warm_up_energy_tracking(carbon)

with logging_to(smk.log[0]):  # import errors, too, belong in the job's log
    from workflow_scripts.data.stages import write_source_stats

    write_source_stats(
        [Path(p) for p in smk.input.train],
        Path(smk.output.stats),
        carbon=carbon,
        cost=Path(smk.output.cost),
        emissions=Path(smk.output.emissions),
    )
