"""Figures of the accuracy-cost trade-off, shared by all experiments."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from workflow_scripts.figures.style import (
    energy_label,
    legend_outside,
    save_figure,
    variant_styles,
)


def pareto_front(costs: np.ndarray, errors: np.ndarray) -> np.ndarray:
    """Indices of the points no other point beats in both cost and error, by cost."""
    order = np.argsort(costs, kind="stable")
    front, best = [], np.inf
    for index in order:
        if errors[index] < best:
            front.append(index)
            best = errors[index]
    return np.asarray(front, dtype=int)


def plot_pareto(
    summary: pd.DataFrame,
    outputs: Sequence[Path],
    *,
    cost: str,
    error: str,
    cost_label: str,
    error_label: str,
    title: str,
) -> None:
    """Error vs cost (log-log): a point per seed, a large marker at each variant's median,
    and the Pareto front through the medians."""
    styles = variant_styles(summary)
    medians = summary.groupby("model")[[cost, error]].median()
    figure, axes = plt.subplots(figsize=(7.0, 3.8))
    for model, style in styles.items():
        runs = summary[summary["model"] == model]
        axes.scatter(
            runs[cost],
            runs[error],
            color=style["color"],
            marker=style["marker"],
            s=18,
            alpha=0.45,
            linewidths=0,
        )
        axes.scatter(
            medians.loc[model, cost],
            medians.loc[model, error],
            color=style["color"],
            marker=style["marker"],
            s=80,
            edgecolors="black",
            linewidths=0.8,
            label=style["label"],
            zorder=3,
        )
    front = pareto_front(medians[cost].to_numpy(), medians[error].to_numpy())
    axes.step(
        medians[cost].to_numpy()[front],
        medians[error].to_numpy()[front],
        where="post",
        color="black",
        linestyle="--",
        linewidth=1.0,
        label="Pareto front (medians)",
    )
    axes.set(xscale="log", yscale="log", xlabel=cost_label, ylabel=error_label, title=title)
    legend_outside(axes)
    save_figure(figure, outputs)


def plot_learning_curves(
    histories: Sequence[Path],
    summary: pd.DataFrame,
    outputs: Sequence[Path],
    *,
    title: str,
    error_label: str,
) -> None:
    """Validation error against cumulative training energy, a line per seed, coloured by
    prior."""
    styles = variant_styles(summary)
    figure, axes = plt.subplots(figsize=(7.0, 3.8))
    labelled = set()
    for path in histories:
        history = pd.read_csv(path)
        model = Path(path).parts[-3]
        style = styles[model]
        axes.plot(
            history["energy_kwh"],
            history["val_mse"],
            color=style["color"],
            marker=style["marker"],
            markersize=2.5,
            linewidth=1.0,
            alpha=0.8,
            label=None if model in labelled else style["label"],
        )
        labelled.add(model)
    axes.set(
        xscale="log",
        yscale="log",
        xlabel=energy_label("cumulative training energy", summary),
        ylabel=error_label,
        title=title,
    )
    legend_outside(axes)
    save_figure(figure, outputs)
