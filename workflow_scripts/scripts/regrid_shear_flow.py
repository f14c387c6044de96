"""Snakemake adapter: rule regrid_shear_flow."""

from pathlib import Path


def main(smk) -> None:
    from workflow_scripts.data.stages import regrid_split
    from workflow_scripts.energy import CarbonSettings

    # The scheduler (and its Slurm workers) come from the config, not params: changing them
    # must not re-run the regrid.
    regrid = smk.config["experiments"]["shear_flow"]["data"]["regrid"]
    # The workers' sbatch logs beside the job's own (logs/regrid_shear_flow/{split}.dask/).
    slurm = (
        {**regrid["slurm"], "log_directory": str(Path(smk.log[0]).with_suffix(".dask"))}
        if "slurm" in regrid
        else None
    )
    regrid_split(
        [Path(p) for p in smk.input.files],
        Path(smk.input.source_stats),
        store=Path(smk.output.store),
        store_stats=Path(smk.output.stats),
        settings=smk.params.settings,
        scheduler=regrid["scheduler"],
        slurm=slurm,
        carbon=CarbonSettings.from_config(smk.params.carbon),
        cost=Path(smk.output.cost),
        emissions=Path(smk.output.emissions),
        threads=smk.threads,
    )


if __name__ == "__main__":
    import checkout_on_path  # noqa: F401  (first: makes workflow_scripts importable)

    from workflow_scripts.warm_worker import run_job

    run_job(snakemake, "workflow_scripts.scripts.regrid_shear_flow:main")  # noqa: F821
