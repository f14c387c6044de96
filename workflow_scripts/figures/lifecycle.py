"""Figures of the lifecycle analysis, drawn from the analysis tables (workflow_scripts/analysis)
only: fronts over lifecycle energy, break-even against the number of predictions, energy to
target error, the sweeps, and an overview of every experiment."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from workflow_scripts.figures import LIFECYCLE_FIGURES
from workflow_scripts.figures.style import (
    BIAS_COLOURS,
    BIAS_ORDER,
    BIAS_WORDS,
    energy_label,
    legend_outside,
    save_figure,
    variant_styles,
)

if TYPE_CHECKING:
    from workflow_scripts.experiments.card import ExperimentCard

FIGURES = LIFECYCLE_FIGURES
_FIGSIZE = (7.0, 3.8)


def _n_predictions(runs: pd.DataFrame) -> str:
    n = runs["lifecycle_predictions"].iloc[0] if "lifecycle_predictions" in runs else None
    if n is None:
        return "N"
    return f"{float(n):,.0f}" if float(n) < 1e6 else f"{float(n):.0e}"


def plot_pareto_lifecycle(
    fronts: pd.DataFrame,
    runs: pd.DataFrame,
    outputs: Sequence[Path],
    *,
    error: str,
    error_label: str,
    title: str,
) -> None:
    """Error vs lifecycle energy: a faint point per run, a large one per variant and sweep
    point (median), and the Pareto front of the medians as a line."""
    styles = variant_styles(runs)
    figure, axes = plt.subplots(figsize=_FIGSIZE)
    cost = "lifecycle_energy_kwh"
    for model, style in styles.items():
        seeds = runs[runs["model"] == model]
        axes.scatter(
            seeds[cost],
            seeds[error],
            color=style["color"],
            marker=style["marker"],
            s=14,
            alpha=0.35,
            linewidths=0,
        )
        medians = fronts[fronts["model"] == model]
        axes.scatter(
            medians[f"{cost}_median"],
            medians[f"{error}_median"],
            color=style["color"],
            marker=style["marker"],
            s=70,
            edgecolors="black",
            linewidths=0.7,
            label=style["label"],
            zorder=3,
        )
    front = fronts[fronts["on_front_lifecycle"]].sort_values(f"{cost}_median")
    axes.step(
        front[f"{cost}_median"],
        front[f"{error}_median"],
        where="post",
        color="black",
        linestyle="--",
        linewidth=1.0,
        label="Pareto front (medians)",
    )
    quantity = f"lifecycle energy, data + training + {_n_predictions(runs)} predictions"
    axes.set(
        xscale="log",
        yscale="log",
        xlabel=energy_label(quantity, runs),
        ylabel=error_label,
        title=title,
    )
    legend_outside(axes)
    save_figure(figure, outputs)


def plot_break_even(
    lifetime: pd.DataFrame,
    break_even: pd.DataFrame,
    runs: pd.DataFrame,
    outputs: Sequence[Path],
    *,
    title: str,
) -> None:
    """Lifetime energy against the number of predictions (1 to 1e9), a line per variant
    (medians), each crossing where the one cheaper to train stops being cheaper marked."""
    styles = variant_styles(runs)
    figure, axes = plt.subplots(figsize=_FIGSIZE)
    for variant, curve in lifetime.groupby("variant", sort=False):
        style = styles[curve["model"].iloc[0]]
        axes.plot(
            curve["predictions"],
            curve["lifetime_energy_kwh"],
            color=style["color"],
            linestyle=style["linestyle"],
            linewidth=1.4,
            label=style["label"] if variant == curve["model"].iloc[0] else variant,
        )
    crossings = break_even[break_even["in_figure_range"].astype(bool)] if len(break_even) else []
    if len(crossings):
        axes.scatter(
            crossings["break_even_predictions"],
            crossings["lifetime_energy_kwh_at_break_even"],
            marker="x",
            color="black",
            s=40,
            zorder=4,
            label="break-even",
        )
    axes.set(
        xscale="log",
        yscale="log",
        xlim=(1.0, 1e9),
        xlabel="number of predictions N",
        ylabel=energy_label("lifetime energy", runs),
        title=f"{title}: data + training + N x inference (medians)",
    )
    legend_outside(axes)
    save_figure(figure, outputs)


def plot_energy_to_target(
    learning_curves: pd.DataFrame,
    targets: pd.DataFrame,
    runs: pd.DataFrame,
    outputs: Sequence[Path],
    *,
    error_label: str,
    title: str,
) -> None:
    """Tracked error against cumulative training energy per variant: median over seeds and
    the min-max band, with the target levels as dotted lines."""
    styles = variant_styles(runs)
    figure, axes = plt.subplots(figsize=_FIGSIZE)
    if learning_curves.empty:  # no history.csv given to the analysis
        axes.text(0.5, 0.5, "no learning curves", ha="center", transform=axes.transAxes)
        learning_curves = pd.DataFrame(columns=["model"])
    for model, curve in learning_curves.groupby("model", sort=False):
        style = styles[model]
        energy = curve["cumulative_train_energy_kwh"]
        axes.fill_between(
            energy,
            curve["error_min"],
            curve["error_max"],
            color=style["color"],
            alpha=0.2,
            linewidth=0,
        )
        axes.plot(
            energy,
            curve["error_median"],
            color=style["color"],
            linestyle=style["linestyle"],
            linewidth=1.4,
            label=style["label"],
        )
    for level in sorted(set(targets["level"])) if len(targets) else []:
        axes.axhline(level, color="grey", linestyle=":", linewidth=0.8)
    if len(targets):
        axes.plot([], [], color="grey", linestyle=":", linewidth=0.8, label="target levels")
    axes.set(
        xscale="log",
        yscale="log",
        xlabel=energy_label("cumulative training energy", runs),
        ylabel=error_label,
        title=title,
    )
    legend_outside(axes)
    save_figure(figure, outputs)


def _interval(statistics: pd.DataFrame, metric: str) -> pd.DataFrame:
    rows = statistics[statistics["metric"] == metric]
    return rows.set_index(["model", "point"])[["median", "ci_low", "ci_high"]]


def _sweep_lines(runs: pd.DataFrame, model: str, points: pd.Index) -> dict[str, list[str]]:
    """A variant's points grouped by the setting their sweep varies, each group with the base
    point, so that two sweeps of one variant (steps, and width) are two lines, not one."""
    rows = runs[(runs["model"] == model) & runs["point"].isin(points)]
    if "sweep_key" not in rows or rows["sweep_key"].isna().all():
        return {"": list(points)}
    swept = rows.dropna(subset=["sweep_key"])
    base = [p for p in points if p not in set(swept["point"])]
    by_axis = swept.groupby("sweep_key")["point"].unique()
    return {str(axis): [*base, *axis_points] for axis, axis_points in by_axis.items()}


def plot_sweep(
    statistics: pd.DataFrame,
    runs: pd.DataFrame,
    outputs: Sequence[Path],
    *,
    error: str,
    error_label: str,
    title: str,
) -> None:
    """Error vs training energy along each swept variant's points (medians joined in order
    of energy), 95 % bootstrap intervals as bars in both and a band in error; variants
    without a sweep as single points."""
    styles = variant_styles(runs)
    errors = _interval(statistics, error)
    costs = _interval(statistics, "train_energy_kwh")
    figure, axes = plt.subplots(figsize=_FIGSIZE)
    lines = [
        (model, style, points, axis)
        for model, style in styles.items()
        if model in errors.index.get_level_values("model")
        for axis, points in _sweep_lines(runs, model, errors.loc[model].index).items()
    ]
    for model, style, points, axis in lines:
        e = errors.loc[model].loc[points]
        c = costs.loc[model].reindex(e.index)
        order = np.argsort(c["median"].to_numpy())
        e, c = e.iloc[order], c.iloc[order]
        swept = len(e) > 1
        several = sum(m == model for m, *_ in lines) > 1
        axes.errorbar(
            c["median"],
            e["median"],
            xerr=[c["median"] - c["ci_low"], c["ci_high"] - c["median"]],
            yerr=[e["median"] - e["ci_low"], e["ci_high"] - e["median"]],
            color=style["color"],
            marker=style["marker"],
            linestyle=style["linestyle"] if swept else "none",
            linewidth=1.2,
            markersize=5,
            capsize=2,
            label=style["label"]
            + (
                f" ({axis}: {len(e)} points)" if several else f" ({len(e)} points)" if swept else ""
            ),
        )
        if swept:
            for point, x, y in zip(e.index, c["median"], e["median"], strict=True):
                axes.annotate(point, (x, y), fontsize=6, xytext=(3, 3), textcoords="offset points")
            axes.fill_between(
                c["median"],
                e["ci_low"],
                e["ci_high"],
                color=style["color"],
                alpha=0.15,
                linewidth=0,
            )
    if not (statistics.groupby("model")["point"].nunique() > 1).any():
        title += " (no sweep in this run)"
    axes.set(
        xscale="log",
        yscale="log",
        xlabel=energy_label("training energy", runs),
        ylabel=error_label,
        title=f"{title}: medians and 95 % bootstrap intervals over seeds",
    )
    legend_outside(axes)
    save_figure(figure, outputs)


def plot_overview(
    fronts: Mapping[str, pd.DataFrame],
    runs: Mapping[str, pd.DataFrame],
    outputs: Sequence[Path],
    *,
    errors: Mapping[str, str],
    error_labels: Mapping[str, str],
    titles: Mapping[str, str] | None = None,
) -> None:
    """Every experiment's variants and sweep points on error vs lifecycle energy (medians),
    one panel per experiment, coloured by physics prior (none / weak / strong)."""
    names = list(fronts)
    figure, panels = plt.subplots(
        1, len(names), figsize=(3.8 * len(names) + 1.6, 3.8), squeeze=False
    )
    cost = "lifecycle_energy_kwh_median"
    for axes, name in zip(panels[0], names, strict=True):
        table, error = fronts[name], f"{errors[name]}_median"
        for bias in BIAS_ORDER:
            rows = table[table["physics_bias"] == bias]
            axes.scatter(
                rows[cost],
                rows[error],
                color=BIAS_COLOURS[bias],
                s=36,
                edgecolors="black",
                linewidths=0.5,
                zorder=3,
            )
            for row in rows.itertuples():
                label = row.model if row.point == "base" else f"{row.model}@{row.point}"
                axes.annotate(
                    label,
                    (getattr(row, cost), getattr(row, error)),
                    fontsize=6,
                    xytext=(3, 3),
                    textcoords="offset points",
                )
        front = table[table["on_front_lifecycle"]].sort_values(cost)
        axes.step(front[cost], front[error], where="post", color="black", linestyle="--", lw=0.9)
        n = _n_predictions(runs[name])
        axes.set(
            xscale="log",
            yscale="log",
            # Two lines: the panels sit side by side.
            xlabel=energy_label("lifecycle energy", runs[name]).replace(" (", "\n(", 1),
            ylabel=error_labels[name],
            title=f"{(titles or {}).get(name, name)} ({n} predictions)",
        )
    handles = [
        Line2D(
            [],
            [],
            marker="o",
            linestyle="none",
            color=BIAS_COLOURS[b],
            markeredgecolor="black",
            label=f"{BIAS_WORDS[b]} prior",
        )
        for b in BIAS_ORDER
    ] + [Line2D([], [], color="black", linestyle="--", label="Pareto front (medians)")]
    panels[0][-1].legend(handles=handles, loc="center left", bbox_to_anchor=(1.02, 0.5))
    save_figure(figure, outputs)


def draw(
    figure: str,
    tables: Mapping[str, pd.DataFrame],
    outputs: Sequence[Path],
    *,
    error: str,
    error_label: str,
    tracked_error_label: str,
    title: str,
) -> None:
    """One experiment's figure ``figure`` (of ``FIGURES``) from its analysis tables."""
    runs = tables["runs"]
    if figure == "pareto_lifecycle":
        plot_pareto_lifecycle(
            tables["fronts"], runs, outputs, error=error, error_label=error_label, title=title
        )
    elif figure == "break_even":
        plot_break_even(tables["lifetime"], tables["break_even"], runs, outputs, title=title)
    elif figure == "energy_to_target":
        plot_energy_to_target(
            tables["learning_curves"],
            tables["energy_to_target"],
            runs,
            outputs,
            error_label=tracked_error_label,
            title=title,
        )
    elif figure == "sweep":
        plot_sweep(
            tables["statistics"], runs, outputs, error=error, error_label=error_label, title=title
        )
    else:
        raise ValueError(f"unknown lifecycle figure {figure!r}; known: {', '.join(FIGURES)}")


def draw_experiment_figure(
    figure: str, card: ExperimentCard, tables: Mapping[str, pd.DataFrame], outputs: Sequence[Path]
) -> None:
    """``figure`` of an experiment with its card's error column, labels and title."""
    draw(
        figure,
        tables,
        outputs,
        error=card.error,
        error_label=card.error_label,
        tracked_error_label=card.tracked_error_label,
        title=card.title,
    )


def draw_overview(
    fronts: Mapping[str, pd.DataFrame],
    runs: Mapping[str, pd.DataFrame],
    outputs: Sequence[Path],
    cards: Mapping[str, ExperimentCard],
) -> None:
    """The overview figure with each experiment's error column, label and title (its card's)."""
    plot_overview(
        fronts,
        runs,
        outputs,
        errors={name: cards[name].error for name in fronts},
        error_labels={name: cards[name].error_label for name in fronts},
        titles={name: cards[name].title for name in fronts},
    )
