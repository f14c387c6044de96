"""Snakemake adapter: rule simulate_shear_flow."""

from pathlib import Path


def main(smk) -> None:
    from workflow_scripts.data.stages import simulate_file
    from workflow_scripts.energy import CarbonSettings

    simulate_file(
        Path(smk.output.well),
        split=smk.wildcards.split,
        settings=smk.params.settings,
        carbon=CarbonSettings.from_config(smk.params.carbon),
        cost=Path(smk.output.cost),
        emissions=Path(smk.output.emissions),
        device_name=smk.params.device,
        threads=smk.threads,
    )


if __name__ == "__main__":
    import checkout_on_path  # noqa: F401  (first: makes workflow_scripts importable)

    from workflow_scripts.warm_worker import run_job

    run_job(snakemake, "workflow_scripts.scripts.simulate_shear_flow:main")  # noqa: F821
