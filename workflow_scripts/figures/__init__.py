"""Figures as functions of tidy tables; they never re-run models.

This package's ``__init__`` stays free of matplotlib, so experiment cards can name figures
cheaply: :func:`pareto_figure` and :func:`learning_curves_figure` return drawing functions
that import the plotting code only when a figure job calls them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workflow_scripts.experiments.card import Draw, ExperimentCard, FigureInputs


#: The lifecycle figures of the analysis (figures/lifecycle.py) and what each shows.
LIFECYCLE_CAPTIONS = {
    "pareto_lifecycle": "Test error against lifecycle energy (data + training + N predictions "
    "x inference, N = carbon.lifecycle_predictions), every variant and sweep point: medians over "
    "seeds with 95 % bootstrap intervals; the line joins the Pareto front (nothing is both more "
    "accurate and cheaper). Colours: physics prior none / weak / strong.",
    "break_even": "Lifetime energy (data + training + N x inference) of each variant against "
    "the number of predictions N, log axes 1 to 1e9; a marker where the variant cheaper to "
    "train stops being cheaper over its lifetime (break-even.csv lists every pair, or never).",
    "energy_to_target": "Learning-curve error against cumulative training energy, median and "
    "min-max band over seeds per variant; dashed lines: the target levels of "
    "energy_to_target.csv (the energy at which each variant first reaches each level).",
    "sweep": "Test error against training energy along each sweep (training budget or model "
    "size) of each variant: medians over seeds with 95 % bootstrap intervals.",
    "overview": "Every experiment's variants (medians over seeds) on test error against "
    "lifecycle energy, one panel per experiment; colour by physics prior none / weak / strong.",
}
#: One experiment's lifecycle figures (the overview spans all experiments).
LIFECYCLE_FIGURES = tuple(name for name in LIFECYCLE_CAPTIONS if name != "overview")


def pareto_figure(cost: str, quantity: str, against: str) -> Draw:
    """Error against ``cost`` (a summary column: ``quantity``, e.g. "training energy")."""

    def draw(inputs: FigureInputs, outputs: Sequence[Path], card: ExperimentCard) -> None:
        from workflow_scripts.figures import tradeoffs
        from workflow_scripts.figures.style import energy_label

        table = inputs.table()
        tradeoffs.plot_pareto(
            table,
            outputs,
            cost=cost,
            error=card.error,
            cost_label=energy_label(quantity, table),
            error_label=card.error_label,
            title=f"{card.title}: error vs {against}",
        )

    return draw


def learning_curves_figure() -> Draw:
    """The validation error against cumulative training energy, a line per run."""

    def draw(inputs: FigureInputs, outputs: Sequence[Path], card: ExperimentCard) -> None:
        from workflow_scripts.figures import tradeoffs

        tradeoffs.plot_learning_curves(
            inputs.histories,
            inputs.table(),
            outputs,
            title=f"{card.title}: learning curves",
            error_label=card.tracked_error_label,
        )

    return draw
