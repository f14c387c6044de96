"""What the claims read of one experiment: per-seed values of each variant and configuration,
from its per-run table (runs.csv), its statistics (statistics.csv: which configuration is a
variant's base or best) and its runs' learning curves (run_curves.csv).

A configuration is a (variant, sweep point), trained once per seed; on a learning curve, each
logged evaluation of a run is one more configuration ("trained this far", an anytime point).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from workflow_scripts.analysis import targets
from workflow_scripts.analysis.statistics import (
    BASE_POINT,
    bootstrap_median_interval,
    group_rng,
    representative,
    wide,
    with_point,
)

BIAS_RANK = {"none": 0, "weak": 1, "strong": 2}
#: The training energy at a run's plateau (targets.plateau_energy), a per-run figure that the
#: runs table lacks: Evidence computes it from the learning curves.
PLATEAU = targets.PLATEAU
ENERGY = targets.ENERGY
#: Words for the columns the claims speak of (the sentences of the report's start page).
NAMES = {
    "test_mse": "test MSE",
    "test_extrap_mse": "extrapolation MSE (t > observation_end)",
    "vrmse": "one-step VRMSE",
    "val_mse": "validation MSE",
    "train_co2_g": "training CO2",
    "inference_co2_g_per_prediction": "CO2 per forecast",
    ENERGY: "training energy",
    PLATEAU: "training energy to its plateau",
}


def name(column: str) -> str:
    return NAMES.get(column, column)


class Missing(Exception):
    """Something a comparison needs is not in the tables (the message says what)."""


@dataclass(frozen=True)
class Sample:
    """One configuration's per-seed values of one figure, with its median and the percentile
    bootstrap interval of the median (statistics.py's, with the same seeded resamples)."""

    label: str
    values: np.ndarray
    median: float
    low: float
    high: float

    @classmethod
    def of(cls, label: str, values, key: tuple, seed: int = 0) -> Sample:
        values = np.asarray(values, dtype=float)
        low, high = bootstrap_median_interval(values, group_rng(seed, key))
        return cls(label, values, float(np.median(values)), low, high)

    @property
    def n(self) -> int:
        return int(self.values.size)

    def text(self) -> str:
        if math.isnan(self.low):
            return f"{self.label} {self.median:.3g} (one seed: no interval)"
        return f"{self.label} {self.median:.3g} [{self.low:.3g}, {self.high:.3g}] (n={self.n})"


def label(model: str, point: str) -> str:
    return model if point == BASE_POINT else f"{model}@{point}"


class Evidence:
    """Lookups into one experiment's tables, raising :class:`Missing` for what is not there."""

    def __init__(
        self,
        experiment: str,
        runs: pd.DataFrame,
        statistics: pd.DataFrame,
        curves: pd.DataFrame | None = None,
        *,
        tracked_error: str,
        plateau_tolerance: float,
        seed: int = 0,
    ) -> None:
        self.experiment = experiment
        self.runs = with_point(runs)
        self.seed = seed
        self.tracked_error = tracked_error
        self.plateau_tolerance = plateau_tolerance
        self.wide = wide(statistics) if not statistics.empty else pd.DataFrame()
        chosen = representative(self.wide) if not self.wide.empty else self.wide
        self._base = {row.model: row.point for row in chosen.itertuples()}
        self.curves = pd.DataFrame() if curves is None else with_point(curves)
        self._plateaus: pd.DataFrame | None = None

    def models(self) -> list[str]:
        return sorted(self.runs["model"].unique())

    def require(self, model: str) -> None:
        if model not in self._base:
            raise Missing(f"variant {model} not run in {self.experiment}")

    def bias(self, model: str) -> str:
        self.require(model)
        return str(self.runs.loc[self.runs["model"] == model, "physics_bias"].iloc[0])

    def priors(self) -> tuple[str, ...]:
        """Every variant with a physics prior (weak or strong)."""
        return tuple(m for m in self.models() if BIAS_RANK[self.bias(m)] > 0)

    def base_point(self, model: str) -> str:
        """The unswept configuration, else the most trained (statistics.representative)."""
        self.require(model)
        return self._base[model]

    def points(self, model: str) -> list[str]:
        self.require(model)
        return sorted(self.runs.loc[self.runs["model"] == model, "point"].unique())

    def swept(self, model: str, key: str) -> list[str]:
        """The model's sweep points whose sweep key names ``key`` (e.g. "width")."""
        rows = self.runs[(self.runs["model"] == model) & (self.runs["point"] != BASE_POINT)]
        keys = rows.get("sweep_key", pd.Series(dtype=str)).fillna("").astype(str)
        return sorted(rows.loc[keys.str.contains(key, case=False), "point"].unique())

    def best_point(self, model: str, metric: str) -> str:
        """The configuration of lowest median ``metric``."""
        medians = {p: self.sample(model, metric, p).median for p in self.points(model)}
        return min(medians, key=lambda p: (medians[p], p))

    def point(self, model: str, at: str, metric: str) -> str:
        return self.best_point(model, metric) if at == "best" else self.base_point(model)

    def sample(self, model: str, metric: str, point: str | None = None) -> Sample:
        """Per-seed values of ``metric`` of one configuration (default: the base point)."""
        point = self.base_point(model) if point is None else point
        if metric == PLATEAU:
            table = self.plateaus()
        elif metric not in self.runs:
            raise Missing(f"column {metric} missing from the {self.experiment} runs table")
        else:
            table = self.runs
        rows = table[(table["model"] == model) & (table["point"] == point)].sort_values("seed")
        values = rows[metric].dropna().to_numpy(dtype=float)
        if values.size == 0:
            raise Missing(f"{metric} not measured for {label(model, point)} in {self.experiment}")
        key = (self.experiment, model, point, metric)  # statistics.py's: the same interval
        return Sample.of(label(model, point), values, key, self.seed)

    def curves_of(self, model: str, point: str | None = None) -> pd.DataFrame:
        """The runs' learning curves of one configuration (default: the base point)."""
        if self.curves.empty or self.tracked_error not in self.curves:
            raise Missing(f"no learning curves ({self.tracked_error}) in {self.experiment}")
        point = self.base_point(model) if point is None else point
        rows = self.curves[(self.curves["model"] == model) & (self.curves["point"] == point)]
        if rows.empty:
            raise Missing(f"no learning curve of {label(model, point)} in {self.experiment}")
        return rows

    def plateaus(self) -> pd.DataFrame:
        if self._plateaus is None:
            if self.curves.empty or self.tracked_error not in self.curves:
                raise Missing(f"no learning curves ({self.tracked_error}) in {self.experiment}")
            self._plateaus = targets.plateau_energy(
                self.curves, self.tracked_error, self.plateau_tolerance
            )
        return self._plateaus

    def configurations(
        self, models: tuple[str, ...], error: str, cost: str, anytime: bool
    ) -> pd.DataFrame:
        """Per seed (rows) and configuration: ``label``, ``error`` and ``cost``. Sweep points
        from the runs table, or with ``anytime`` every logged evaluation of every run's
        learning curve (error = the tracked error, cost = cumulative training energy; the
        untrained start, at zero energy, is no configuration)."""
        frames = []
        for model in models:
            if anytime:
                rows = pd.concat([self.curves_of(model, p) for p in self.points(model)])
                rows = rows[rows[ENERGY] > 0]
                labels = [
                    f"{label(model, p)} step {s}"
                    for p, s in zip(rows["point"], rows["step"], strict=True)
                ]
                frame = pd.DataFrame(
                    {"label": labels, "seed": rows["seed"], "error": rows[error]}
                ).assign(cost=rows[cost].to_numpy())
            else:
                for column in (error, cost):
                    self.sample(model, column, self.base_point(model))  # Missing if absent
                rows = self.runs[self.runs["model"] == model]
                frame = pd.DataFrame(
                    {
                        "label": [label(model, p) for p in rows["point"]],
                        "seed": rows["seed"],
                        "error": rows[error],
                        "cost": rows[cost],
                    }
                )
            frames.append(frame.assign(model=model))
        return pd.concat(frames, ignore_index=True).dropna(subset=["error", "cost"])
