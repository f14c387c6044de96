"""The carbon stage: a table per experiment with lifecycle CO2 (data + train + inference)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from workflow_scripts.files import atomic_path, read_json

_LEADING = ["experiment", "model", "physics_bias", "seed", "n_parameters"]


def summarize_runs(
    train_summaries: Sequence[Path],
    run_metrics: Sequence[Path],
    data_costs: Sequence[Path],
    lifecycle_predictions: int,
) -> pd.DataFrame:
    """One row per (variant, seed): every efficacy and efficiency figure, units in the names.

    One number per cell: per-step lists (the shear-flow rollouts) stay in each run's
    metrics.json and predictions.nc, where they are arrays rather than text.
    Lifecycle CO2 = the data stage (shared by all variants of the experiment, counted in
    full for each, since each needs it) + training + ``lifecycle_predictions`` predictions.
    """
    rows = []
    for train_path, metrics_path in zip(train_summaries, run_metrics, strict=True):
        train = {k: v for k, v in read_json(train_path).items() if k != "spec"}
        metrics = read_json(metrics_path)
        if (train["model"], train["seed"]) != (metrics["model"], metrics["seed"]):
            raise ValueError(f"{train_path} and {metrics_path} describe different runs")
        run = {**train, **metrics, "energy_method": train["energy_method"]}
        rows.append({k: v for k, v in run.items() if not isinstance(v, list)})
    table = pd.DataFrame(rows)

    data_energy_kwh = data_co2_g = data_wall_s = 0.0
    for path in data_costs:
        cost = read_json(path)
        data_energy_kwh += cost["data_energy_kwh"]
        data_co2_g += cost["data_co2_g"]
        data_wall_s += cost["data_wall_s"]
    table["data_wall_s"] = data_wall_s
    table["data_energy_kwh"] = data_energy_kwh
    table["data_co2_g"] = data_co2_g
    table["lifecycle_predictions"] = lifecycle_predictions
    table["lifecycle_energy_kwh"] = (
        data_energy_kwh
        + table["train_energy_kwh"]
        + lifecycle_predictions * table["inference_energy_kwh_per_prediction"]
    )
    table["lifecycle_co2_g"] = (
        data_co2_g
        + table["train_co2_g"]
        + lifecycle_predictions * table["inference_co2_g_per_prediction"]
    )
    ordered = _LEADING + [c for c in table.columns if c not in _LEADING]
    return table[ordered].sort_values(["model", "seed"]).reset_index(drop=True)


def write_summary(table: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)
