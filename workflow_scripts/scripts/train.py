"""Snakemake adapter: rule train."""

from pathlib import Path


def main(smk) -> None:
    from workflow_scripts.code_version import record_code_version
    from workflow_scripts.energy import CarbonSettings
    from workflow_scripts.experiments.base import VariantSpec
    from workflow_scripts.training import TrainOutputs, train_variant

    # The meter's settings are the params (a rerun trigger); the rest of the carbon block (the
    # shared-machine threshold of the job's flag) only labels the job's JSON, so it comes from
    # the config, which triggers nothing.
    carbon = CarbonSettings.from_config({**smk.config.get("carbon", {}), **smk.params.carbon})
    train_variant(
        VariantSpec.from_dict(smk.params.spec),
        seed=int(smk.wildcards.seed),
        data_path=Path(smk.input.data),
        outputs=TrainOutputs(
            *(Path(smk.output[k]) for k in ("model", "history", "emissions", "summary"))
        ),
        carbon=carbon,
        device_name=smk.params.device,
        threads=smk.threads,
    )
    record_code_version(Path(smk.output.summary), "train")


if __name__ == "__main__":
    import checkout_on_path  # noqa: F401  (first: makes workflow_scripts importable)

    from workflow_scripts.warm_worker import run_job

    run_job(snakemake, "workflow_scripts.scripts.train:main")  # noqa: F821
