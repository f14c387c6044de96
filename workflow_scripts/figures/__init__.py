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
    """The tracked test error against cumulative training energy, a line per run."""

    def draw(inputs: FigureInputs, outputs: Sequence[Path], card: ExperimentCard) -> None:
        from workflow_scripts.figures import tradeoffs

        tradeoffs.plot_learning_curves(
            inputs.histories, inputs.table(), outputs, title=f"{card.title}: learning curves"
        )

    return draw
