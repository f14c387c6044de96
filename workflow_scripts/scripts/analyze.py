"""Snakemake adapter: the analysis rules (params.step says which).

- ``analyze``: one experiment's tables from its summary and learning curves;
- ``claims``: the claims table from every experiment's runs, statistics and learning curves;
- ``figure``: one lifecycle figure of one experiment from its tables;
- ``overview``: the overview figure from every experiment's fronts and runs.
"""

from pathlib import Path


def main(smk) -> None:
    import pandas as pd

    from workflow_scripts.analysis import TABLES
    from workflow_scripts.analysis.claims import check_claims
    from workflow_scripts.analysis.pipeline import (
        TRACKED_ERROR,
        analyze_experiment,
        read_histories,
        read_tables,
        write_tables,
    )
    from workflow_scripts.experiments import card_of
    from workflow_scripts.files import atomic_path

    step = smk.params.step
    if step == "analyze":
        summary = pd.read_csv(smk.input.summary)
        histories = smk.input.get("histories", [])
        tables = analyze_experiment(
            summary,
            read_histories(histories, summary, smk.params.get("runs")) if histories else None,
            error=smk.params.error,
            relative_error=smk.params.relative_error,
            lifecycle_predictions=smk.params.get("lifecycle_predictions"),
            target_levels=smk.params.get("target_levels"),
            alpha=smk.params.get("ecol2_alpha", 10.0),
            beta_per_g=smk.params.get("ecol2_beta_per_g"),
        )
        write_tables(tables, {name: Path(smk.output[name]) for name in TABLES})
    elif step == "claims":
        names = smk.params.experiments

        def tables(name: str) -> dict[str, pd.DataFrame]:
            return read_tables(dict(zip(names, smk.input[name], strict=True)))

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
    elif step == "figure":
        from workflow_scripts.figures.lifecycle import draw_experiment_figure

        tables = read_tables({name: smk.input[name] for name in smk.input.keys()})
        draw_experiment_figure(
            smk.params.figure,
            card_of(smk.config, smk.params.experiment),
            tables,
            [Path(p) for p in smk.output],
        )
    elif step == "overview":
        from workflow_scripts.figures.lifecycle import draw_overview

        names = smk.params.experiments
        fronts = dict(zip(names, map(pd.read_csv, smk.input.fronts), strict=True))
        runs = dict(zip(names, map(pd.read_csv, smk.input.runs), strict=True))
        cards = {name: card_of(smk.config, name) for name in names}
        draw_overview(fronts, runs, [Path(p) for p in smk.output], cards)
    else:
        raise ValueError(f"unknown analysis step {step!r}")


if __name__ == "__main__":
    import checkout_on_path  # noqa: F401  (first: makes workflow_scripts importable)

    from workflow_scripts.warm_worker import run_job

    run_job(snakemake, "workflow_scripts.scripts.analyze:main")  # noqa: F821
