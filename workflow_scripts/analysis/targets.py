"""Energy to target error and to the plateau, from each run's learning curve (history.csv).

The learning curve's error is its own column (``tracked_error``, default ``val_mse``): the MSE
on the validation set, never the test set (for the shear flow the one-step MSE in normalised
(z) units on 16 windows of the valid split, not the test VRMSE of the summary). Levels and
energies here are in that column's units.

Reaching a level: a run reaches level L at the cumulative training energy of its first logged
evaluation with error <= L (the logging interval bounds the resolution: the energy is an
upper bound of what was needed). A variant (group of seeds) reaches L when a strict majority
of its seeds do (more than half); its energy to L is then the median over seeds with the
others counted as +inf, which is finite exactly in that case.

Default levels (:func:`default_levels`): for each group, its majority best error b_g = the
(floor(n/2)+1)-th smallest of its runs' lowest errors (so exactly the lowest level the group
reaches by the rule above), and its start s_g = the median over seeds of the first logged
error. With B = {b_g} and S = min(s_g): the levels are sqrt(S max(B)) (left out if S <= max(B))
and max(B), which every group reaches, and sqrt(min(B) max(B)) and min(B), which only some
reach where the groups differ; each rounded up to two significant digits (up, so that
reaching is kept), duplicates dropped. The first lies between the start and the worst group's
best, so reaching it takes some training.

Plateau (:func:`plateau_energy`): a run's training energy at its first logged evaluation within
a relative ``tolerance`` of its final error (error <= final x (1 + tolerance)): what the run
spent to get (nearly) as good as it got, rather than what its budget let it spend.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from workflow_scripts.analysis.statistics import (
    GROUP,
    bootstrap_median_interval,
    group_rng,
    with_point,
)

RUN = GROUP + ["seed"]
ENERGY = "energy_kwh"  # history.csv: cumulative training energy
# A run's training energy at its first evaluation within the tolerance of its final error.
PLATEAU = "plateau_energy_kwh"
ENERGY_TO_TARGET_COLUMNS = [
    *GROUP,
    "tracked_error",
    "level",
    "n_seeds",
    "n_reached",
    "status",
    *(f"train_energy_kwh_to_target_{s}" for s in ("median", "ci_low", "ci_high", "min", "max")),
]
CURVE_BAND_COLUMNS = [
    *GROUP,
    "tracked_error",
    "cumulative_train_energy_kwh",
    "n_seeds",
    "error_median",
    "error_min",
    "error_max",
]


def _clean(histories: pd.DataFrame, error: str) -> pd.DataFrame:
    return with_point(histories).dropna(subset=[error, ENERGY]).sort_values(RUN + ["step"])


def majority_best(histories: pd.DataFrame, error: str = "val_mse") -> pd.Series:
    """Per group: the lowest error a strict majority of its seeds reach."""
    best = _clean(histories, error).groupby(RUN)[error].min()

    def kth(values: pd.Series) -> float:
        ordered = np.sort(values.to_numpy())
        return float(ordered[len(ordered) // 2])  # 0-based index floor(n/2)

    return best.groupby(level=GROUP).apply(kth)


def majority_best_of(histories: pd.DataFrame, error: str = "val_mse") -> float:
    """:func:`majority_best` of histories of one group."""
    best = majority_best(histories, error)
    if len(best) != 1:
        raise ValueError(f"one group expected, got {len(best)}")
    return float(best.iloc[0])


def round_up(value: float, digits: int = 2) -> float:
    """``value`` rounded up to ``digits`` significant digits."""
    if value <= 0 or not math.isfinite(value):
        return value
    scale = 10 ** (math.floor(math.log10(value)) - digits + 1)
    rounded = math.ceil(round(value / scale, 9)) * scale
    return float(f"{rounded:.{digits}g}")


def default_levels(histories: pd.DataFrame, error: str = "val_mse") -> list[float]:
    """Levels every group reaches and levels only some reach (module docstring), descending."""
    frame = _clean(histories, error)
    best = majority_best(frame, error)
    start = frame.groupby(RUN)[error].first().groupby(level=GROUP).median().min()
    low, high = float(best.min()), float(best.max())
    candidates = [high, math.sqrt(low * high), low]
    if start > high:
        candidates.append(math.sqrt(start * high))
    return sorted({round_up(c) for c in candidates}, reverse=True)


def run_energy_to_levels(
    histories: pd.DataFrame, levels: Sequence[float], error: str = "val_mse"
) -> pd.DataFrame:
    """Per run and level: the cumulative training energy of its first evaluation at or below
    the level (``+inf`` where it never gets there)."""
    rows = []
    for key, run in _clean(histories, error).groupby(RUN, sort=True):
        errors = run[error].to_numpy()
        energies = run[ENERGY].to_numpy()
        for level in levels:
            hit = np.flatnonzero(errors <= level)
            energy = float(energies[hit[0]]) if hit.size else float("inf")
            rows.append({**dict(zip(RUN, key, strict=True)), "level": level, ENERGY: energy})
    return pd.DataFrame(rows, columns=RUN + ["level", ENERGY])


def energy_to_level(histories: pd.DataFrame, level: float, error: str = "val_mse") -> np.ndarray:
    """Per run of the histories, in order of seed: its energy to ``level`` (+inf: never)."""
    reached = run_energy_to_levels(histories, [level], error)
    return reached.sort_values("seed")[ENERGY].to_numpy()


def energy_to_target(
    histories: pd.DataFrame,
    levels: Sequence[float] | None = None,
    error: str = "val_mse",
    *,
    seed: int = 0,
) -> pd.DataFrame:
    """Per group and level: seeds, seeds that reach it, and the median energy to it with a
    bootstrap interval (``status`` "reached" or "not reached"; energies +inf when not)."""
    histories = with_point(histories)
    if levels is None:
        levels = default_levels(histories, error)
    per_run = run_energy_to_levels(histories, levels, error)
    attributes = (
        histories[GROUP + ["physics_bias"]].drop_duplicates(GROUP)
        if "physics_bias" in histories
        else None
    )
    rows = []
    for (*key, level), group in per_run.groupby(GROUP + ["level"], sort=True):
        energies = group[ENERGY].to_numpy()
        reached = energies[np.isfinite(energies)]
        median = float(np.median(energies))
        low, high = bootstrap_median_interval(energies, group_rng(seed, (*key, level)))
        rows.append(
            {
                **dict(zip(GROUP, key, strict=True)),
                "tracked_error": error,
                "level": level,
                "n_seeds": energies.size,
                "n_reached": reached.size,
                "status": "reached" if math.isfinite(median) else "not reached",
                "train_energy_kwh_to_target_median": median,
                "train_energy_kwh_to_target_ci_low": low,
                "train_energy_kwh_to_target_ci_high": high,
                "train_energy_kwh_to_target_min": float(reached.min()) if reached.size else np.inf,
                "train_energy_kwh_to_target_max": float(reached.max()) if reached.size else np.inf,
            }
        )
    table = pd.DataFrame(rows, columns=ENERGY_TO_TARGET_COLUMNS)
    if attributes is not None:
        table = table.merge(attributes, on=GROUP, how="left")
    return table.sort_values(GROUP + ["level"], ascending=[True] * 3 + [False]).reset_index(
        drop=True
    )


def curve_bands(
    histories: pd.DataFrame, error: str = "val_mse", *, n_grid: int = 60
) -> pd.DataFrame:
    """Per group: error against cumulative training energy on a common log-spaced energy
    grid: median, min and max over the seeds whose curve spans each grid energy (curves are
    interpolated linearly in log error vs log energy, never extrapolated)."""
    histories = with_point(histories)
    frame = _clean(histories, error)
    frame = frame[(frame[ENERGY] > 0) & (frame[error] > 0)]
    rows = []
    for key, group in frame.groupby(GROUP, sort=True):
        grid = np.geomspace(group[ENERGY].min(), group[ENERGY].max(), n_grid)
        curves = []
        for _, run in group.groupby("seed"):
            run = run.drop_duplicates(ENERGY, keep="last")
            log_energy, log_error = np.log(run[ENERGY].to_numpy()), np.log(run[error].to_numpy())
            values = np.exp(np.interp(np.log(grid), log_energy, log_error))
            outside = (grid < run[ENERGY].min() * (1 - 1e-12)) | (
                grid > run[ENERGY].max() * (1 + 1e-12)
            )
            values[outside] = np.nan
            curves.append(values)
        stacked = np.vstack(curves)
        counts = np.sum(~np.isnan(stacked), axis=0)
        with warnings.catch_warnings():  # all-NaN columns are skipped below
            warnings.simplefilter("ignore", RuntimeWarning)
            median = np.nanmedian(stacked, axis=0)
            low, high = np.nanmin(stacked, axis=0), np.nanmax(stacked, axis=0)
        for i, energy in enumerate(grid):
            if counts[i] == 0:
                continue
            rows.append(
                {
                    **dict(zip(GROUP, key, strict=True)),
                    "tracked_error": error,
                    "cumulative_train_energy_kwh": float(energy),
                    "n_seeds": int(counts[i]),
                    "error_median": float(median[i]),
                    "error_min": float(low[i]),
                    "error_max": float(high[i]),
                }
            )
    table = pd.DataFrame(rows, columns=CURVE_BAND_COLUMNS)
    if "physics_bias" in histories:
        table = table.merge(
            histories[GROUP + ["physics_bias"]].drop_duplicates(GROUP), on=GROUP, how="left"
        )
    return table


def run_curves(histories: pd.DataFrame, error: str) -> pd.DataFrame:
    """Every run's learning curve, trimmed to what the claims read: the run's keys, its prior,
    the step, the tracked error and the cumulative training energy."""
    keep = [c for c in (*RUN, "physics_bias", "step", error, ENERGY) if c in histories]
    return _clean(histories, error)[keep].reset_index(drop=True)


def plateau_energy(histories: pd.DataFrame, error: str, tolerance: float) -> pd.DataFrame:
    """Per run: its final error, and the step, error and cumulative training energy of its
    first logged evaluation with error <= final x (1 + ``tolerance``)."""
    if tolerance < 0:
        raise ValueError("the plateau tolerance is relative and at least 0")
    rows = []
    for key, run in _clean(histories, error).groupby(RUN, sort=True):
        errors = run[error].to_numpy()
        final = float(errors[-1])
        first = int(np.flatnonzero(errors <= final * (1.0 + tolerance))[0])
        rows.append(
            {
                **dict(zip(RUN, key, strict=True)),
                "final_error": final,
                "plateau_step": int(run["step"].iloc[first]),
                "plateau_error": float(errors[first]),
                PLATEAU: float(run[ENERGY].iloc[first]),
            }
        )
    columns = [*RUN, "final_error", "plateau_step", "plateau_error", PLATEAU]
    return pd.DataFrame(rows, columns=columns)
