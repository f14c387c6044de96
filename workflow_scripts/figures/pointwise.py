"""Solution figures of the PINN-family experiments, drawn from saved predictions."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import xarray as xr

from workflow_scripts.figures.style import save_figure, variant_styles


def _open(path: Path) -> xr.Dataset:
    with xr.open_dataset(path, engine="h5netcdf") as dataset:
        return dataset.load()


def plot_oscillator_predictions(
    dataset_path: Path,
    predictions: Sequence[Path],
    summary: pd.DataFrame,
    outputs: Sequence[Path],
) -> None:
    """Exact solution, the observations, and every variant's prediction (a line per seed)."""
    data = _open(dataset_path)
    styles = variant_styles(summary)
    t = data["test_inputs"].values[:, 0]
    figure, axes = plt.subplots(figsize=(6.5, 3.6))
    axes.plot(t, data["test_values"], color="black", linewidth=2.0, label="exact solution")
    t_end = float(data["observation_inputs"].values.max())
    axes.axvspan(0, t_end, color="grey", alpha=0.12, label="observation window")
    labelled = set()
    for path in predictions:
        model = Path(path).parts[-3]
        style = styles[model]
        axes.plot(
            t,
            _open(path)["prediction"],
            color=style["color"],
            linewidth=1.0,
            alpha=0.8,
            linestyle="--" if style["marker"] != "o" else "-",
            label=None if model in labelled else style["label"],
        )
        labelled.add(model)
    axes.scatter(
        data["observation_inputs"].values[:, 0],
        data["observation_values"],
        color="black",
        s=18,
        zorder=4,
        label="observations",
    )
    axes.set(xlabel="t (s)", ylabel="x(t)", title="Damped oscillator: extrapolation")
    axes.set_ylim(-1.6, 1.6)
    axes.legend(loc="lower right", ncols=2)
    save_figure(figure, outputs)
