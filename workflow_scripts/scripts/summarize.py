"""Snakemake adapter: rule summarize."""

from pathlib import Path


def main(smk) -> None:
    from workflow_scripts.energy import CarbonSettings
    from workflow_scripts.summary import summarize_runs, write_summary

    table = summarize_runs(
        smk.input.train,
        smk.input.metrics,
        smk.input.data_costs,
        lifecycle_predictions=smk.params.lifecycle_predictions,
        carbon=CarbonSettings.from_config(smk.params.carbon),
    )
    write_summary(table, Path(smk.output.summary))


if __name__ == "__main__":
    import checkout_on_path  # noqa: F401  (first: makes workflow_scripts importable)

    from workflow_scripts.warm_worker import run_job

    run_job(snakemake, "workflow_scripts.scripts.summarize:main")  # noqa: F821
