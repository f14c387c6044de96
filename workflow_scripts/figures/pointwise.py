"""Solution figures of the PINN-family experiments, drawn from saved predictions."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.colors import LogNorm

from workflow_scripts.figures.style import save_figure, variant_styles


def _open(path: Path) -> xr.Dataset:
    with xr.open_dataset(path, engine="h5netcdf") as dataset:
        return dataset.load()


def plot_oscillator_predictions(
    dataset_path: Path,
    predictions: Sequence[Path],
    summary: pd.DataFrame,
    outputs: Sequence[Path],
    title: str,
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
    axes.set(xlabel="t (s)", ylabel="x(t)", title=f"{title}: extrapolation")
    axes.set_ylim(-1.6, 1.6)
    axes.legend(loc="lower right", ncols=2)
    save_figure(figure, outputs)


def _burgers_grid(data: xr.Dataset) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """x (nx,), t (nt,) and the (nt, nx) shape of the flattened, t-major test grid."""
    shape = tuple(json.loads(data.attrs["test_grid_shape"]))
    inputs = data["test_inputs"].values.reshape(*shape, 2)
    return inputs[0, :, 0], inputs[:, 0, 1], shape


def _first_seed_predictions(
    predictions: Sequence[Path], styles: dict[str, dict]
) -> dict[str, tuple[int, np.ndarray]]:
    """model -> (seed, flat prediction) of each variant's first configured seed, in style order.

    Runs are listed variant by variant in the order of the configured seeds, so the first path
    of a variant is its first seed.
    """
    first: dict[str, Path] = {}
    for path in map(Path, predictions):
        first.setdefault(path.parts[-3], path)
    return {
        model: (
            int(first[model].parts[-2].removeprefix("seed")),
            _open(first[model])["prediction"].values,
        )
        for model in styles
        if model in first
    }


def plot_burgers_solution(
    dataset_path: Path,
    predictions: Sequence[Path],
    summary: pd.DataFrame,
    outputs: Sequence[Path],
) -> None:
    """x–t maps of the exact solution, each variant's prediction and its absolute error.

    Top row: the reference then each variant (one shared diverging colour scale); bottom row:
    |prediction − reference| on one shared logarithmic scale. Seed: each variant's first.
    """
    data = _open(dataset_path)
    x, t, shape = _burgers_grid(data)
    reference = data["test_values"].values.reshape(shape)
    runs = _first_seed_predictions(predictions, variant_styles(summary))
    errors = {
        model: np.abs(prediction.reshape(shape) - reference)
        for model, (_, prediction) in runs.items()
    }
    limit = float(np.abs(reference).max())
    error_max = max(float(e.max()) for e in errors.values())
    error_norm = LogNorm(vmin=error_max * 1e-4, vmax=error_max)

    columns = 1 + len(runs)
    figure, axes = plt.subplots(
        2,
        columns,
        figsize=(1.6 * columns + 0.8, 3.9),
        sharex=True,
        sharey=True,
        squeeze=False,
        layout="constrained",
    )
    extent = (t[0], t[-1], x[0], x[-1])
    common = {"origin": "lower", "aspect": "auto", "extent": extent, "interpolation": "nearest"}

    def show(ax, values, title, **style):
        image = ax.imshow(values.T, **common, **style)
        ax.set_title(title, fontsize=8.5)
        ax.grid(False)
        return image

    solution_image = show(
        axes[0, 0], reference, "exact (Cole–Hopf)", cmap="RdBu_r", vmin=-limit, vmax=limit
    )
    _plot_training_points(axes[1, 0], data)
    rows = summary.set_index(["model", "seed"])
    for column, (model, (seed, prediction)) in enumerate(runs.items(), start=1):
        show(
            axes[0, column],
            prediction.reshape(shape),
            f"{model} (seed {seed})",
            cmap="RdBu_r",
            vmin=-limit,
            vmax=limit,
        )
        rel_l2 = rows.loc[(model, seed), "test_rel_l2"] if (model, seed) in rows.index else None
        error_image = show(
            axes[1, column],
            np.maximum(errors[model], error_norm.vmin),
            f"rel. L2 error {100 * rel_l2:.2g} %" if rel_l2 is not None else model,
            cmap="magma",
            norm=error_norm,
        )
    for ax in axes[:, 0]:
        ax.set_ylabel("x")
    for ax in axes[1, :]:
        ax.set_xlabel("t")
    figure.suptitle(
        f"Viscous Burgers (ν = {_nu_label(data)}): solution u(x, t) and absolute error",
        fontsize=10,
    )
    for row, image, label, extend in (
        (0, solution_image, "u(x, t)", "both"),
        (1, error_image, "|u − u_exact|", "min"),
    ):
        bar = figure.colorbar(image, ax=axes[row, :], extend=extend, fraction=0.03, pad=0.02)
        bar.set_label(label)
        bar.ax.grid(False)
    save_figure(figure, outputs, laid_out=True)


def _nu_label(data: xr.Dataset) -> str:
    nu = json.loads(data.attrs["settings"])["nu"]
    return "0.01/π" if math.isclose(nu * math.pi, 0.01, rel_tol=1e-12) else f"{nu:.4g}"


def _plot_training_points(ax, data: xr.Dataset) -> None:
    """Where the labelled training points lie in the x–t plane (variants use some of them)."""
    observations = data["observation_inputs"].values
    conditions = data["condition_inputs"].values
    ax.scatter(
        observations[:, 1],
        observations[:, 0],
        s=1.5,
        color="#777777",
        linewidths=0,
        label=f"{len(observations)} observations",
    )
    ax.scatter(
        conditions[:, 1],
        conditions[:, 0],
        s=5,
        marker="x",
        color="black",
        linewidths=0.6,
        clip_on=False,
        label=f"{len(conditions)} initial/boundary",
    )
    ax.set_title("training points", fontsize=8.5)
    ax.grid(False)
    ax.legend(
        loc="upper center",
        bbox_to_anchor=(0.5, -0.28),
        fontsize=7,
        markerscale=2.5,
        handletextpad=0.2,
    )


def plot_burgers_slices(
    dataset_path: Path,
    predictions: Sequence[Path],
    summary: pd.DataFrame,
    outputs: Sequence[Path],
    times: Sequence[float] = (0.25, 0.5, 0.75),
) -> None:
    """u(x) at a few times: the exact solution and each variant's first-seed prediction."""
    data = _open(dataset_path)
    x, t, shape = _burgers_grid(data)
    reference = data["test_values"].values.reshape(shape)
    styles = variant_styles(summary)
    runs = _first_seed_predictions(predictions, styles)
    figure, axes = plt.subplots(1, len(times), figsize=(2.45 * len(times), 2.9), sharey=True)
    for ax, wanted in zip(np.atleast_1d(axes), times, strict=True):
        row = int(np.argmin(np.abs(t - wanted)))
        ax.plot(x, reference[row], color="black", linewidth=2.4, alpha=0.35, label="exact")
        for model, (seed, prediction) in runs.items():
            style = styles[model]
            ax.plot(
                x,
                prediction.reshape(shape)[row],
                color=style["color"],
                linestyle=style["linestyle"],
                linewidth=1.2,
                label=f"{style['label']}, seed {seed}",
            )
        ax.set(xlabel="x", title=f"t = {t[row]:.2f}", xlim=(-1, 1))
    np.atleast_1d(axes)[0].set_ylabel("u(x, t)")
    handles, labels = np.atleast_1d(axes)[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncols=3, bbox_to_anchor=(0.5, -0.02))
    figure.suptitle(f"Viscous Burgers (ν = {_nu_label(data)}): u(x) at fixed times", fontsize=10)
    figure.tight_layout(rect=(0, 0.12, 1, 1))
    save_figure(figure, outputs, laid_out=True)
