"""One call per experiment: the summary and learning curves in, every analysis table out."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from workflow_scripts.analysis import break_even, fronts, scores, statistics, targets
from workflow_scripts.energy import lifecycle
from workflow_scripts.files import atomic_path

# The learning curve's own error column (history.csv): on the validation set, never the test
# set; for the shear flow the one-step MSE in z units on 16 valid windows.
TRACKED_ERROR = "val_mse"
# Front name -> cost column.
FRONT_COSTS = {"train": "train_energy_kwh", "lifecycle": "lifecycle_energy_kwh"}
_SEED_DIR = re.compile(r"seed(\d+)$")


def with_lifecycle(runs: pd.DataFrame, lifecycle_predictions: float | None) -> pd.DataFrame:
    """The runs with lifecycle energy and CO2 at N predictions (the summary's N if None):
    data (charged in full to each variant) + training + N x inference."""
    if lifecycle_predictions is None:
        return runs
    n = float(lifecycle_predictions)
    return runs.assign(
        lifecycle_predictions=n,
        lifecycle_energy_kwh=lifecycle(runs, "energy_kwh", n),
        lifecycle_co2_g=lifecycle(runs, "co2_g", n),
    )


def read_histories(
    paths: Sequence[str | Path],
    summary: pd.DataFrame,
    keys: Sequence[Mapping[str, object]] | None = None,
) -> pd.DataFrame:
    """Every run's history.csv in one table with experiment, model, point and seed columns.

    Without ``keys`` (one mapping of model/point/seed per path) they are read from the path:
    ``.../{model}/seed{s}/history.csv`` (point "base") or ``.../{model}/{point}/seed{s}/...``.
    """
    experiment = str(summary["experiment"].iloc[0])
    models = set(summary["model"])
    frames = []
    for index, path in enumerate(map(Path, paths)):
        if keys is not None:
            key = dict(keys[index])
        else:
            match = _SEED_DIR.match(path.parent.name)
            if match is None:
                raise ValueError(f"{path}: no seed directory to name the run")
            above = path.parent.parent
            if above.name in models:
                key = {"model": above.name, "point": statistics.BASE_POINT}
            else:
                key = {"model": above.parent.name, "point": above.name}
            key["seed"] = int(match.group(1))
        key.setdefault("point", statistics.BASE_POINT)
        frames.append(pd.read_csv(path).assign(experiment=experiment, **key))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def analyze_experiment(
    summary: pd.DataFrame,
    histories: pd.DataFrame | None = None,
    *,
    error: str,
    relative_error: str = "test_rel_l2",
    tracked_error: str = TRACKED_ERROR,
    lifecycle_predictions: float | None = None,
    target_levels: Sequence[float] | None = None,
    alpha: float = scores.DEFAULT_ALPHA,
    beta_per_g: float | None = None,
    seed: int = 0,
) -> dict[str, pd.DataFrame]:
    """Every analysis table of one experiment (names in ``TABLES``), from its summary (one row
    per run) and its runs' learning curves (:func:`read_histories`). ``error``: the test error
    (fronts, G-score); ``relative_error``: the relative L2 error (EcoL2), both from the
    experiment's card."""
    experiments = summary["experiment"].unique()
    if len(experiments) != 1:
        raise ValueError(f"one experiment at a time, got {list(experiments)}")
    experiment = str(experiments[0])

    runs = with_lifecycle(statistics.with_point(summary), lifecycle_predictions)
    runs, parameters = scores.add_scores(
        runs, error=error, relative_error=relative_error, alpha=alpha, beta_per_g=beta_per_g
    )
    stats = statistics.summarize_over_seeds(runs, seed=seed)
    medians = statistics.wide(stats)
    front = fronts.front_table(medians, error=error, costs=FRONT_COSTS)
    at_base = statistics.representative(medians)

    tables = {
        "runs": runs,
        "statistics": stats,
        "fronts": front,
        "break_even": break_even.break_even_table(at_base),
        "lifetime": break_even.lifetime_curves(at_base),
        "score_parameters": pd.DataFrame(
            [{"experiment": experiment, **dataclasses.asdict(parameters)}]
        ),
    }
    if histories is not None and not histories.empty:
        curves = statistics.with_point(histories)
        bias = runs[["model", "physics_bias"]].drop_duplicates("model")
        curves = curves.drop(columns="physics_bias", errors="ignore").merge(bias, on="model")
        tables["run_curves"] = targets.run_curves(curves, tracked_error)
        # Energy to target and learning curves at each variant's representative point.
        chosen = at_base[statistics.GROUP]
        curves = curves.merge(chosen, on=statistics.GROUP)
        tables["energy_to_target"] = targets.energy_to_target(
            curves, target_levels, tracked_error, seed=seed
        )
        tables["learning_curves"] = targets.curve_bands(curves, tracked_error)
    else:  # no learning curves: the tables' headers alone
        tables["run_curves"] = pd.DataFrame(
            columns=[*targets.RUN, "physics_bias", "step", tracked_error, targets.ENERGY]
        )
        tables["energy_to_target"] = pd.DataFrame(columns=targets.ENERGY_TO_TARGET_COLUMNS)
        tables["learning_curves"] = pd.DataFrame(columns=targets.CURVE_BAND_COLUMNS)
    return tables


def write_tables(tables: Mapping[str, pd.DataFrame], paths: Mapping[str, str | Path]) -> None:
    """Each named table to its CSV path, atomically (a failed job leaves no partial file).
    "Not reached" energies are written as ``inf``, which read_csv reads back as +inf."""
    for name, path in paths.items():
        with atomic_path(path) as tmp:
            tables[name].to_csv(tmp, index=False)


def read_tables(paths: Mapping[str, str | Path]) -> dict[str, pd.DataFrame]:
    """The named CSV tables back (an empty file, as tables written before every table kept
    its header, as an empty table)."""
    tables = {}
    for name, path in paths.items():
        try:
            tables[name] = pd.read_csv(path)
        except pd.errors.EmptyDataError:
            tables[name] = pd.DataFrame()
    return tables
