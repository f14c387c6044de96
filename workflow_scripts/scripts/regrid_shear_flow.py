"""Snakemake adapter: rule regrid_shear_flow."""

from pathlib import Path

import checkout_on_path  # noqa: F401  (first: makes workflow_scripts importable)

from workflow_scripts.energy import CarbonSettings, warm_up_energy_tracking
from workflow_scripts.logs import logging_to

smk = snakemake  # noqa: F821
# The scheduler (and its Slurm workers) come from the config, not params: changing them must
# not re-run the regrid.
regrid = smk.config["experiments"]["shear_flow"]["data"]["regrid"]
scheduler = regrid["scheduler"]
# The workers' sbatch logs beside the job's own (logs/regrid_shear_flow/{split}.dask/).
slurm = (
    {**regrid["slurm"], "log_directory": str(Path(smk.log[0]).with_suffix(".dask"))}
    if "slurm" in regrid
    else None
)
carbon = CarbonSettings.from_config(smk.params.carbon)
warm_up_energy_tracking(carbon)

with logging_to(smk.log[0]):  # import errors, too, belong in the job's log
    from workflow_scripts.data.stages import regrid_split

    regrid_split(
        [Path(p) for p in smk.input.files],
        Path(smk.input.source_stats),
        store=Path(smk.output.store),
        store_stats=Path(smk.output.stats),
        settings=smk.params.settings,
        scheduler=scheduler,
        slurm=slurm,
        carbon=carbon,
        cost=Path(smk.output.cost),
        emissions=Path(smk.output.emissions),
        threads=smk.threads,
    )
