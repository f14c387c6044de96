"""The carbon stage: a table per experiment with lifecycle energy and CO2 (data + train +
inference).

Measured jobs store energy without PUE; CO2 is derived here, as energy x PUE x grid intensity
(:func:`workflow_scripts.energy.co2_g`), so a changed PUE or grid intensity re-runs this rule
and the figures, never a measured job.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from workflow_scripts.code_version import code_version
from workflow_scripts.energy import (
    COSTS,
    CarbonSettings,
    co2_g,
    grid_intensity_g_per_kwh,
    lifecycle,
    shared_machine,
)
from workflow_scripts.files import atomic_path, read_json

_LEADING = ["experiment", "model", "point", "physics_bias", "seed", "n_parameters"]


def _data_costs(data_costs: Sequence[Path], threshold: float) -> dict[str, object]:
    """The data stages' totals: wall time, energies, CPU time; shared if any stage was."""
    totals = {f"data_{stem}": 0.0 for stem in COSTS}
    figures, shared = set(), False
    for path in data_costs:
        cost = read_json(path)
        for key in totals:
            totals[key] += cost[key]
        figures.add(cost["data_energy_figure"])
        shared |= shared_machine(cost["data_others_cpu_load"], threshold)
    return {
        **totals,
        "data_energy_figure": "; ".join(sorted(figures)),
        "data_shared_machine": shared,
    }


def summarize_runs(
    train_summaries: Sequence[Path],
    run_metrics: Sequence[Path],
    data_costs: Sequence[Path],
    lifecycle_predictions: int,
    carbon: CarbonSettings | None = None,
) -> pd.DataFrame:
    """One row per (variant, seed): every efficacy and efficiency figure, units in the names.

    One number per cell: per-step lists (the shear-flow rollouts) stay in each run's
    metrics.json and predictions.nc, where they are arrays rather than text.
    Energies (kWh) exclude PUE. ``*_energy_kwh`` is the figure the analysis uses (named in
    ``*_energy_figure``: process-attributed where codecarbon estimates, its reading where it
    measures), ``*_energy_machine_kwh`` codecarbon's machine-wide figure beside it.
    ``*_shared_machine``: other processes used more than ``carbon.shared_load_threshold``
    cores on average during the job. CO2 (g) = energy x ``pue`` x ``grid_intensity_g_per_kwh``.
    ``made_by_other_code``: the run's training or evaluation was made by code other than this
    checkout's now (``*_code_version``: ``unrecorded`` for results made before they were).
    Lifecycle = the data stage (shared by all variants of the experiment, counted in full for
    each, since each needs it) + training + ``lifecycle_predictions`` predictions.
    """
    carbon = carbon or CarbonSettings()
    threshold = carbon.shared_load_threshold
    rows = []
    for train_path, metrics_path in zip(train_summaries, run_metrics, strict=True):
        train = read_json(train_path, made_by="train")
        spec = train.pop("spec", {})  # absent in hand-made tables
        metrics = read_json(metrics_path, made_by="evaluate")
        if (train["model"], train["seed"]) != (metrics["model"], metrics["seed"]):
            raise ValueError(f"{train_path} and {metrics_path} describe different runs")
        # The sweep point ("base": the variant as configured), its sweep and swept value.
        point = {key: spec.get(key) for key in ("point", "sweep", "sweep_value")}
        point["point"] = point["point"] or "base"
        point["sweep_key"] = point.pop("sweep")
        # The code that made each half (absent: made before versions were recorded).
        versions = {
            "train_code_version": train.pop("code_version", "unrecorded"),
            "evaluate_code_version": metrics.pop("code_version", "unrecorded"),
        }
        run = {**train, **metrics, **point, **versions, "energy_method": train["energy_method"]}
        rows.append({k: v for k, v in run.items() if not isinstance(v, list)})
    table = pd.DataFrame(rows)
    if table["sweep_key"].isna().all():  # no sweep: no empty sweep columns
        table = table.drop(columns=["sweep_key", "sweep_value"])

    # Results are not re-run when the code changes (code_version.py says why): flagged instead.
    table["made_by_other_code"] = (table["train_code_version"] != code_version("train")) | (
        table["evaluate_code_version"] != code_version("evaluate")
    )

    # The flags follow the threshold configured now, from each job's recorded load.
    table["shared_load_threshold"] = threshold
    for stage in ("train", "inference"):
        table[f"{stage}_shared_machine"] = shared_machine(
            table[f"{stage}_others_cpu_load"], threshold
        )
    for key, value in _data_costs(data_costs, threshold).items():
        table[key] = value
    table["shared_machine"] = (
        table["train_shared_machine"]
        | table["inference_shared_machine"]
        | table["data_shared_machine"]
    )

    intensity = grid_intensity_g_per_kwh(carbon)
    table["pue"] = carbon.pue
    table["grid_intensity_g_per_kwh"] = intensity
    table["lifecycle_predictions"] = lifecycle_predictions
    table["lifecycle_energy_kwh"] = lifecycle(table, "energy_kwh", lifecycle_predictions)
    for energy, co2 in (
        ("train_energy_kwh", "train_co2_g"),
        ("inference_energy_kwh_per_prediction", "inference_co2_g_per_prediction"),
        ("data_energy_kwh", "data_co2_g"),
        ("lifecycle_energy_kwh", "lifecycle_co2_g"),
    ):
        table[co2] = co2_g(table[energy], carbon, intensity)
    ordered = _LEADING + [c for c in table.columns if c not in _LEADING]
    return table[ordered].sort_values(["model", "point", "seed"]).reset_index(drop=True)


def write_summary(table: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)
