"""Snakemake adapter: every figure rule (the drawing function is the card's)."""

from pathlib import Path


def main(smk) -> None:
    from workflow_scripts.experiments import card_of
    from workflow_scripts.experiments.card import FigureInputs

    card = card_of(smk.config, smk.params.experiment)
    inputs = FigureInputs(
        summary=Path(smk.input.summary),
        histories=[Path(p) for p in smk.input.get("histories", [])],
        predictions=[Path(p) for p in smk.input.get("predictions", [])],
        dataset=Path(smk.input.dataset) if "dataset" in smk.input.keys() else None,
    )
    card.figures[smk.params.figure].draw(inputs, [Path(p) for p in smk.output], card)


if __name__ == "__main__":
    import checkout_on_path  # noqa: F401  (first: makes workflow_scripts importable)

    from workflow_scripts.warm_worker import run_job

    run_job(snakemake, "workflow_scripts.scripts.figure:main")  # noqa: F821
