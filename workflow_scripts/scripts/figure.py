"""Snakemake adapter: every rule figure_{experiment}_{figure} (rules/figures.smk). A figure the
experiment's card declares is drawn by the card's function from the summary and run files;
the others are the trade-off figures (figures/lifecycle.py), drawn from the experiment's
analysis tables."""

from pathlib import Path


def main(smk) -> None:
    from workflow_scripts.experiments import card_of

    card = card_of(smk.config, smk.params.experiment)
    figure = smk.params.figure
    outputs = [Path(p) for p in smk.output]
    if figure in card.figures:
        from workflow_scripts.experiments.card import FigureInputs

        inputs = FigureInputs(
            summary=Path(smk.input.summary),
            histories=[Path(p) for p in smk.input.get("histories", [])],
            predictions=[Path(p) for p in smk.input.get("predictions", [])],
            dataset=Path(smk.input.dataset) if "dataset" in smk.input.keys() else None,
        )
        card.figures[figure].draw(inputs, outputs, card)
    else:
        from workflow_scripts.analysis.pipeline import read_tables
        from workflow_scripts.figures.lifecycle import draw_experiment_figure

        tables = read_tables({name: smk.input[name] for name in smk.input.keys()})
        draw_experiment_figure(figure, card, tables, outputs)


if __name__ == "__main__":
    import checkout_on_path  # noqa: F401  (first: makes workflow_scripts importable)

    from workflow_scripts.warm_worker import run_job

    run_job(snakemake, "workflow_scripts.scripts.figure:main")  # noqa: F821
