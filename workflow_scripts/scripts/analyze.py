"""Snakemake adapter: rule analyze (one experiment's tables from its summary and learning
curves)."""

from pathlib import Path


def main(smk) -> None:
    import pandas as pd

    from workflow_scripts.analysis import TABLES
    from workflow_scripts.analysis.pipeline import analyze_experiment, read_histories, write_tables

    summary = pd.read_csv(smk.input.summary)
    tables = analyze_experiment(
        summary,
        read_histories(smk.input.histories, summary),
        error=smk.params.error,
        relative_error=smk.params.relative_error,
        target_levels=smk.params.target_levels,
        alpha=smk.params.ecol2_alpha,
        beta_per_g=smk.params.ecol2_beta_per_g,
    )
    write_tables(tables, {name: Path(smk.output[name]) for name in TABLES})


if __name__ == "__main__":
    import checkout_on_path  # noqa: F401  (first: makes workflow_scripts importable)

    from workflow_scripts.warm_worker import run_job

    run_job(snakemake, "workflow_scripts.scripts.analyze:main")  # noqa: F821
