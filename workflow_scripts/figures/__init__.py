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
    "shear_flow": {
        "rollout": ("summary", "predictions"),
        "rollout_error": ("summary", "predictions"),
        "pareto_train": ("summary",),
        "pareto_inference": ("summary",),
        "divergence": ("summary", "predictions"),
    },
}

# What the test error of each experiment measures (y axis of its Pareto figure).
_ERROR_LABELS = {
    "oscillator": "test MSE (extrapolation, whole window)",
    "burgers": "test MSE (whole x–t reference grid)",
    "shear_flow": "one-step VRMSE (test split, mean over fields)",
}
# The error column of each experiment's Pareto figures (default: test_mse).
_ERROR_COLUMNS = {"shear_flow": "vrmse"}
# Pareto figures: name -> (cost column, what it is, what the error is plotted against).
_PARETO = {
    "pareto": ("train_energy_kwh", "training energy", "training energy"),
    "pareto_train": ("train_energy_kwh", "training energy", "training energy"),
    "pareto_inference": (
        "inference_energy_kwh_per_prediction",
        "inference energy per forecast step",
        "inference energy",
    ),
}
_TITLES = {"burgers": "Viscous Burgers", "shear_flow": "Shear flow"}


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

    from workflow_scripts.figures import fields, pointwise, tradeoffs
    from workflow_scripts.figures.style import energy_label

    table = pd.read_csv(summary)
    title = _TITLES.get(experiment, experiment.replace("_", " ").capitalize())
    if figure in _PARETO:
        cost, quantity, against = _PARETO[figure]
        tradeoffs.plot_pareto(
            table,
            outputs,
            cost=cost,
            error=_ERROR_COLUMNS.get(experiment, "test_mse"),
            cost_label=energy_label(quantity, table),
            error_label=_ERROR_LABELS.get(experiment, "test MSE"),
            title=f"{title}: error vs {against}",
        )
    elif figure == "learning_curves":
        tradeoffs.plot_learning_curves(histories, table, outputs, title=f"{title}: learning curves")
    elif (experiment, figure) == ("oscillator", "predictions"):
        pointwise.plot_oscillator_predictions(dataset, predictions, table, outputs)
    elif (experiment, figure) == ("burgers", "solution"):
        pointwise.plot_burgers_solution(dataset, predictions, table, outputs)
    elif (experiment, figure) == ("burgers", "slices"):
        pointwise.plot_burgers_slices(dataset, predictions, table, outputs)
    elif (experiment, figure) == ("shear_flow", "rollout"):
        fields.plot_rollout(predictions, table, outputs, title=f"{title}: tracer rollout")
    elif (experiment, figure) == ("shear_flow", "rollout_error"):
        fields.plot_rollout_error(predictions, table, outputs, title=f"{title}: rollout error")
    elif (experiment, figure) == ("shear_flow", "divergence"):
        fields.plot_divergence(predictions, table, outputs, title=f"{title}: divergence")
    else:
        raise KeyError(f"no figure {figure!r} for experiment {experiment!r}")
