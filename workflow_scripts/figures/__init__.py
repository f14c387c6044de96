"""Registry of figures: experiment -> figure name -> which tables it reads.

Kept free of matplotlib so the Snakefile can import it cheaply; :func:`draw_figure` imports
the drawing code. Figures read only tidy outputs of earlier stages; they never re-run models.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

# name -> inputs it needs, of: summary, histories, predictions, dataset
FIGURES: dict[str, dict[str, tuple[str, ...]]] = {
    "oscillator": {
        "pareto": ("summary",),
        "predictions": ("summary", "predictions", "dataset"),
        "learning_curves": ("summary", "histories"),
    },
    "burgers": {
        "solution": ("summary", "predictions", "dataset"),
        "slices": ("summary", "predictions", "dataset"),
        "pareto": ("summary",),
        "learning_curves": ("summary", "histories"),
    },
}

# What the test error of each experiment measures (y axis of its Pareto figure).
_ERROR_LABELS = {
    "oscillator": "test MSE (extrapolation, whole window)",
    "burgers": "test MSE (whole x–t reference grid)",
}
_TITLES = {"burgers": "Viscous Burgers"}


def draw_figure(
    experiment: str,
    figure: str,
    outputs: Sequence[Path],
    *,
    summary: Path,
    histories: Sequence[Path] = (),
    predictions: Sequence[Path] = (),
    dataset: Path | None = None,
) -> None:
    import pandas as pd

    from workflow_scripts.figures import pointwise, tradeoffs

    table = pd.read_csv(summary)
    title = _TITLES.get(experiment, experiment.replace("_", " ").capitalize())
    if figure == "pareto":
        tradeoffs.plot_pareto(
            table,
            outputs,
            cost="train_energy_kwh",
            error="test_mse",
            cost_label="training energy (kWh, incl. PUE)",
            error_label=_ERROR_LABELS.get(experiment, "test MSE"),
            title=f"{title}: error vs training energy",
        )
    elif figure == "learning_curves":
        tradeoffs.plot_learning_curves(histories, table, outputs, title=f"{title}: learning curves")
    elif (experiment, figure) == ("oscillator", "predictions"):
        pointwise.plot_oscillator_predictions(dataset, predictions, table, outputs)
    elif (experiment, figure) == ("burgers", "solution"):
        pointwise.plot_burgers_solution(dataset, predictions, table, outputs)
    elif (experiment, figure) == ("burgers", "slices"):
        pointwise.plot_burgers_slices(dataset, predictions, table, outputs)
    else:
        raise KeyError(f"no figure {figure!r} for experiment {experiment!r}")
