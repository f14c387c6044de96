"""Synthetic analysis tables shared by the analysis tests, and the end-to-end analysis test."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workflow_scripts.analysis import TABLES
from workflow_scripts.analysis.pipeline import analyze_experiment, read_histories, write_tables
from workflow_scripts.experiments import experiment_card

GRID_G_PER_KWH = 445.0 * 1.58  # the default carbon settings: CO2 = energy x PUE x intensity


def analyzed(summary: pd.DataFrame, histories: pd.DataFrame | None = None, **options):
    """analyze_experiment with the error column of the summary's experiment card."""
    card = experiment_card(str(summary["experiment"].iloc[0]))
    return analyze_experiment(summary, histories, error=card.error, **options)


def synthetic_summary(
    experiment: str,
    variants: dict[str, tuple[str, float, float, float]],
    *,
    seeds: int = 5,
    spread: float = 0.05,
    rng_seed: int = 0,
    points: dict[str, dict[str, float]] | None = None,
    lifecycle_predictions: int = 1000,
) -> pd.DataFrame:
    """Runs of ``variants`` (model -> (physics_bias, error, train kWh, inference kWh per
    prediction)), each value times exp(spread x standard normal) per seed. ``points``
    (model -> point label -> scale) adds sweep points whose error is divided by the scale and
    training energy multiplied by it."""
    rng = np.random.default_rng(rng_seed)
    rows = []
    for model, (bias, error, train_kwh, inference_kwh) in variants.items():
        sweep = {"base": 1.0, **(points or {}).get(model, {})}
        for point, scale in sweep.items():
            for seed in range(seeds):
                noise = np.exp(spread * rng.standard_normal(3))
                row_error = error / scale * noise[0]
                train = train_kwh * scale * noise[1]
                inference = inference_kwh * noise[2]
                rows.append(
                    {
                        "experiment": experiment,
                        "model": model,
                        "physics_bias": bias,
                        "point": point,
                        "sweep_key": np.nan if point == "base" else "architecture.width",
                        "sweep_value": np.nan if point == "base" else scale,
                        "seed": seed,
                        "n_parameters": 1000 * scale,
                        "test_mse": row_error,
                        "test_extrap_mse": 2 * row_error,
                        "vrmse": np.sqrt(row_error),
                        "test_rel_l2": np.sqrt(row_error),
                        "train_energy_kwh": train,
                        "inference_energy_kwh_per_prediction": inference,
                        "data_energy_kwh": 1e-3,
                        "train_co2_g": train * GRID_G_PER_KWH,
                        "inference_co2_g_per_prediction": inference * GRID_G_PER_KWH,
                        "data_co2_g": 1e-3 * GRID_G_PER_KWH,
                        "train_wall_s": train * 3.6e5,
                        "energy_is_estimate": True,
                        "lifecycle_predictions": lifecycle_predictions,
                    }
                )
    table = pd.DataFrame(rows)
    table["lifecycle_energy_kwh"] = (
        table["data_energy_kwh"]
        + table["train_energy_kwh"]
        + lifecycle_predictions * table["inference_energy_kwh_per_prediction"]
    )
    table["lifecycle_co2_g"] = table["lifecycle_energy_kwh"] * GRID_G_PER_KWH
    return table


def synthetic_histories(summary: pd.DataFrame, n_steps: int = 20) -> pd.DataFrame:
    """A learning curve per run: the validation error decays geometrically from 1 to the
    run's test_mse while cumulative energy grows linearly to its training energy."""
    frames = []
    for run in summary.itertuples():
        fraction = np.linspace(0.0, 1.0, n_steps + 1)
        frames.append(
            pd.DataFrame(
                {
                    "experiment": run.experiment,
                    "model": run.model,
                    "point": run.point,
                    "seed": run.seed,
                    "step": np.arange(n_steps + 1) * 10,
                    "phase": "adam",
                    "loss": run.test_mse**fraction,
                    "val_mse": run.test_mse**fraction,
                    "elapsed_s": fraction * run.train_wall_s,
                    "energy_kwh": fraction * run.train_energy_kwh,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


OSCILLATOR = {
    "mlp": ("none", 1e-2, 2e-3, 1e-9),
    "pinn": ("weak", 2e-4, 1e-3, 1e-9),
    "pinn_hard": ("strong", 1e-4, 8e-4, 1e-9),
}


def test_analyze_experiment_makes_every_table_with_units_in_the_names(tmp_path) -> None:
    summary = synthetic_summary("oscillator", OSCILLATOR, points={"mlp": {"w64": 2.0}})
    histories = synthetic_histories(summary)
    tables = analyzed(summary, histories, lifecycle_predictions=1e6)

    assert set(tables) == set(TABLES)
    stats = tables["statistics"]
    assert set(stats["n_seeds"]) == {5}
    assert {"train_energy_kwh", "lifecycle_energy_kwh", "g_score_train", "ecol2"} <= set(
        stats["metric"]
    )
    # Lifecycle recomputed at the N asked for: data + train + 1e6 x inference.
    runs = tables["runs"]
    assert np.allclose(
        runs["lifecycle_energy_kwh"],
        runs["data_energy_kwh"]
        + runs["train_energy_kwh"]
        + 1e6 * runs["inference_energy_kwh_per_prediction"],
    )
    # Fronts span every variant and sweep point; break-even and targets at the base point.
    assert len(tables["fronts"]) == 4 and tables["fronts"]["on_front_train"].any()
    assert len(tables["break_even"]) == 3
    assert set(tables["energy_to_target"]["model"]) == set(OSCILLATOR)
    assert set(tables["energy_to_target"]["point"]) == {"base"}
    assert not tables["learning_curves"].empty

    # read_histories names runs from their paths, with and without a point directory.
    paths = []
    for (model, point, seed), run in histories.groupby(["model", "point", "seed"]):
        parts = [model] if point == "base" else [model, point]
        path = tmp_path.joinpath("oscillator", *parts, f"seed{seed}", "history.csv")
        path.parent.mkdir(parents=True, exist_ok=True)
        run.drop(columns=["experiment", "model", "point", "seed"]).to_csv(path, index=False)
        paths.append(path)
    read = read_histories(paths, summary)
    columns = ["model", "point", "seed", "step", "val_mse"]
    assert (
        read.sort_values(columns[:4])[columns]
        .reset_index(drop=True)
        .equals(histories.sort_values(columns[:4])[columns].reset_index(drop=True))
    )


def test_degenerate_runs_give_tables_with_their_headers(tmp_path) -> None:
    # One variant (no pair to break even), one seed, no learning curves.
    summary = synthetic_summary("oscillator", {"mlp": OSCILLATOR["mlp"]}, seeds=1)
    tables = analyzed(summary)
    paths = {name: tmp_path / f"{name}.csv" for name in TABLES}
    write_tables(tables, paths)
    for name, path in paths.items():
        read = pd.read_csv(path)  # no EmptyDataError: a header at least
        assert list(read.columns) == list(tables[name].columns), name
    assert pd.read_csv(paths["break_even"]).empty
    assert "cheaper_to_train" in pd.read_csv(paths["break_even"]).columns
    assert {"level", "train_energy_kwh_to_target_median"} <= set(
        pd.read_csv(paths["energy_to_target"]).columns
    )


def test_analyze_experiment_refuses_two_experiments() -> None:
    both = pd.concat(
        [synthetic_summary("oscillator", OSCILLATOR), synthetic_summary("burgers", OSCILLATOR)]
    )
    with pytest.raises(ValueError, match="one experiment"):
        analyzed(both)


def test_the_analysis_library_imports_neither_torch_nor_matplotlib() -> None:
    import subprocess
    import sys

    code = (
        "import sys, workflow_scripts.analysis, workflow_scripts.analysis.pipeline;"
        "print(sorted(m for m in ('torch', 'matplotlib') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
