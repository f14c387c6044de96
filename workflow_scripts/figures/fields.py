"""Figures of the shear-flow forecasters, from their saved rollouts (``predictions.nc``).

Each run's file holds the de-normalised rollout of the first test trajectory (``truth``,
``prediction``: step × field × x × y) and per-step metrics over all test trajectories
(``rollout_vrmse``, ``rollout_divergence``, ``rollout_divergence_target``, ...).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xarray as xr

from workflow_scripts.figures.style import legend_outside, save_figure, variant_styles


def _by_model(predictions: Sequence[Path]) -> dict[str, list[Path]]:
    """Run files grouped by variant (``results/<experiment>/<model>/seed<n>/...``), seed order."""
    groups: dict[str, list[Path]] = defaultdict(list)
    for path in sorted(map(Path, predictions)):
        groups[path.parts[-3]].append(path)
    return groups


def _per_step(paths: Sequence[Path], name: str) -> np.ndarray:
    """(seed, step) values of one per-step variable."""
    rows = []
    for path in paths:
        with xr.open_dataset(path, engine="h5netcdf") as dataset:
            rows.append(dataset[name].values)
    return np.stack(rows)


def plot_rollout(
    predictions: Sequence[Path],
    summary: pd.DataFrame,
    outputs: Sequence[Path],
    *,
    field: str = "tracer",
    title: str,
) -> None:
    """The field at a few rollout steps: truth, then each variant (its first seed), one scale."""
    styles = variant_styles(summary)
    groups = _by_model(predictions)
    with xr.open_dataset(next(iter(groups.values()))[0], engine="h5netcdf") as first:
        truth = first["truth"].sel(field=field).load()
    n_steps = truth.sizes["step"]
    columns = sorted({1, max(1, n_steps // 4), max(1, n_steps // 2), n_steps})
    rows = [("truth", truth)]
    for model in styles:
        with xr.open_dataset(groups[model][0], engine="h5netcdf") as dataset:
            rows.append((model, dataset["prediction"].sel(field=field).load()))
    limit = float(np.abs(truth.values).max())
    figure = plt.figure(figsize=(1.3 * len(columns) + 1.0, 2.2 * len(rows)))
    # A last, narrow grid column holds the colour bar, so it never overlaps a panel.
    grid = figure.add_gridspec(
        len(rows), len(columns) + 1, width_ratios=[1] * len(columns) + [0.08]
    )
    image = None
    for i, (label, values) in enumerate(rows):
        for j, step in enumerate(columns):
            ax = figure.add_subplot(grid[i, j])
            # x (length 1) across, y (length 2) up: the domain's own aspect.
            image = ax.imshow(
                values.sel(step=step).values.T,
                origin="lower",
                extent=(0.0, 1.0, -1.0, 1.0),
                cmap="RdBu_r",
                vmin=-limit,
                vmax=limit,
            )
            ax.grid(False)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(f"step {step}")
            if j == 0:
                ax.set_ylabel(label, fontsize=8)
    figure.suptitle(title)
    figure.colorbar(image, cax=figure.add_subplot(grid[:, -1]), label=field)
    save_figure(figure, outputs)


def _band_plot(
    predictions: Sequence[Path],
    summary: pd.DataFrame,
    outputs: Sequence[Path],
    *,
    variable: str,
    reference: str,
    reference_label: str,
    ylabel: str,
    title: str,
) -> None:
    """A per-step variable vs rollout step: median over seeds, min–max band, and a reference."""
    styles = variant_styles(summary)
    groups = _by_model(predictions)
    figure, axes = plt.subplots(figsize=(7.2, 3.8))
    reference_values = _per_step(next(iter(groups.values()))[:1], reference)[0]
    steps = np.arange(1, len(reference_values) + 1)
    axes.plot(steps, reference_values, color="black", linestyle=":", label=reference_label)
    for model, style in styles.items():
        values = _per_step(groups[model], variable)
        axes.fill_between(
            steps, values.min(axis=0), values.max(axis=0), color=style["color"], alpha=0.15
        )
        axes.plot(
            steps,
            np.median(values, axis=0),
            color=style["color"],
            linestyle=style["linestyle"],
            marker=style["marker"],
            markevery=max(1, len(steps) // 8),
            markersize=3.5,
            label=style["label"],
        )
    axes.set(yscale="log", xlabel="rollout step", ylabel=ylabel, title=title)
    legend_outside(axes)
    save_figure(figure, outputs)


def plot_rollout_error(
    predictions: Sequence[Path], summary: pd.DataFrame, outputs: Sequence[Path], *, title: str
) -> None:
    _band_plot(
        predictions,
        summary,
        outputs,
        variable="rollout_vrmse",
        reference="rollout_vrmse_persistence",
        reference_label="persistence (last input frame)",
        ylabel="VRMSE (mean over fields; median, min–max of seeds)",
        title=title,
    )


def plot_divergence(
    predictions: Sequence[Path], summary: pd.DataFrame, outputs: Sequence[Path], *, title: str
) -> None:
    _band_plot(
        predictions,
        summary,
        outputs,
        variable="rollout_divergence",
        reference="rollout_divergence_target",
        reference_label="data (true frames)",
        ylabel="mean |∇·u| of the forecast",
        title=title,
    )
