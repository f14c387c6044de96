"""Snakemake adapter: rule claims (the claims table from every experiment's runs, statistics and
learning curves)."""


def main(smk) -> None:
    import pandas as pd

    from workflow_scripts.analysis.claims import check_claims
    from workflow_scripts.analysis.pipeline import TRACKED_ERROR, read_tables
    from workflow_scripts.files import atomic_path

    def tables(name: str) -> dict[str, pd.DataFrame]:
        """Each experiment's table ``name``."""
        return read_tables(dict(zip(smk.params.experiments, smk.input[name], strict=True)))

    claims = check_claims(
        tables("runs"),
        tables("statistics"),
        tables("run_curves"),
        tracked_error=TRACKED_ERROR,
        plateau_tolerance=smk.params.plateau_tolerance,
        significance=smk.params.significance_level,
    )
    with atomic_path(smk.output.claims) as tmp:
        claims.to_csv(tmp, index=False)


if __name__ == "__main__":
    import checkout_on_path  # noqa: F401  (first: makes workflow_scripts importable)

    from workflow_scripts.warm_worker import run_job

    run_job(snakemake, "workflow_scripts.scripts.claims:main")  # noqa: F821
