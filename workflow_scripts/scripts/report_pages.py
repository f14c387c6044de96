"""Snakemake adapter: rule report_pages (the report's tables, claims and run pages)."""

from pathlib import Path


def main(smk) -> None:
    import pandas as pd

    from workflow_scripts.analysis.pipeline import read_tables
    from workflow_scripts.report_pages import write_pages

    experiments = smk.params.experiments

    def tables(name):
        """Each experiment's table (an empty one, e.g. no pair to break even, as empty)."""
        return read_tables(dict(zip(experiments, smk.input[name], strict=True)))

    write_pages(
        config=smk.config,
        claims=pd.read_csv(smk.input.claims),
        summaries=tables("summaries"),
        statistics=tables("statistics"),
        break_even=tables("break_even"),
        energy_to_target=tables("energy_to_target"),
        score_parameters=tables("score_parameters"),
        emissions=[Path(p) for p in smk.input.emissions],
        errors=smk.params.errors,
        outputs={name: Path(path) for name, path in smk.output.items()},
    )


if __name__ == "__main__":
    import checkout_on_path  # noqa: F401  (first: makes workflow_scripts importable)

    from workflow_scripts.warm_worker import run_job

    run_job(snakemake, "workflow_scripts.scripts.report_pages:main")  # noqa: F821
