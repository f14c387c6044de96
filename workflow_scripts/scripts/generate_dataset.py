"""Snakemake adapter: rule generate_dataset."""

from pathlib import Path


def main(smk) -> None:
    from workflow_scripts.data.pointwise import generate_dataset
    from workflow_scripts.energy import CarbonSettings
    from workflow_scripts.experiments import card_of

    # As in train.py: the meter's settings from the params, the job's labels from the config.
    carbon = CarbonSettings.from_config({**smk.config.get("carbon", {}), **smk.params.carbon})
    generate_dataset(
        card_of(smk.config, smk.wildcards.experiment).family.make_dataset,
        smk.params.data,
        dataset_path=Path(smk.output.dataset),
        cost_path=Path(smk.output.cost),
        emissions_path=Path(smk.output.emissions),
        carbon=carbon,
    )


if __name__ == "__main__":
    import checkout_on_path  # noqa: F401  (first: makes workflow_scripts importable)

    from workflow_scripts.warm_worker import run_job

    run_job(snakemake, "workflow_scripts.scripts.generate_dataset:main")  # noqa: F821
