"""Snakemake adapter: rule figure_overview (every experiment's fronts and runs in one figure)."""

from pathlib import Path


def main(smk) -> None:
    import pandas as pd

    from workflow_scripts.experiments import card_of
    from workflow_scripts.figures.lifecycle import draw_overview

    names = smk.params.experiments
    fronts = dict(zip(names, map(pd.read_csv, smk.input.fronts), strict=True))
    runs = dict(zip(names, map(pd.read_csv, smk.input.runs), strict=True))
    cards = {name: card_of(smk.config, name) for name in names}
    draw_overview(fronts, runs, [Path(p) for p in smk.output], cards)


if __name__ == "__main__":
    import checkout_on_path  # noqa: F401  (first: makes workflow_scripts importable)

    from workflow_scripts.warm_worker import run_job

    run_job(snakemake, "workflow_scripts.scripts.figure_overview:main")  # noqa: F821
