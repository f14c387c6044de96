"""Snakemake adapter: rule shear_flow_source_stats."""

from pathlib import Path


def main(smk) -> None:
    from workflow_scripts.data.stages import write_source_stats
    from workflow_scripts.energy import CarbonSettings

    write_source_stats(
        [Path(p) for p in smk.input.train],
        Path(smk.output.stats),
        carbon=CarbonSettings.from_config(smk.params.carbon),
        cost=Path(smk.output.cost),
        emissions=Path(smk.output.emissions),
    )


if __name__ == "__main__":
    import checkout_on_path  # noqa: F401  (first: makes workflow_scripts importable)

    from workflow_scripts.warm_worker import run_job

    run_job(snakemake, "workflow_scripts.scripts.shear_flow_source_stats:main")  # noqa: F821
