"""Break-even between variants: after how many predictions the cheaper one to train is no
longer the cheaper one over its lifetime.

Lifetime energy of a variant at its medians: E(N) = data + training + N x inference per
prediction. The data stage is shared by all variants of an experiment; like the summary's
lifecycle figures, it is charged in full to each variant (each needs all of it). In a pair's
difference it cancels, so the break-even N does not depend on how it is charged; only the
absolute lifetime curves (the figure) do.

For a pair with training energies T_a < T_b and inference energies I_a, I_b:
  N* = (T_b - T_a) / (I_a - I_b)  if I_a > I_b,  else "never" (a stays cheaper for every N).
Equal training energies have no "cheaper to train" variant: status "equal training".
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

TRAIN = "train_energy_kwh_median"
INFERENCE = "inference_energy_kwh_per_prediction_median"
DATA = "data_energy_kwh_median"
PREDICTIONS_RANGE = (1.0, 1e9)
COLUMNS = [
    "experiment",
    "cheaper_to_train",
    "other",
    "train_energy_kwh_cheaper",
    "train_energy_kwh_other",
    "inference_energy_kwh_per_prediction_cheaper",
    "inference_energy_kwh_per_prediction_other",
    "status",
    "break_even_predictions",
    "lifetime_energy_kwh_at_break_even",
    "in_figure_range",
]


def variant_labels(medians: pd.DataFrame) -> pd.Series:
    """``model``, or ``model@point`` where a model appears at more than one point."""
    repeated = medians["model"].duplicated(keep=False)
    return medians["model"].where(~repeated, medians["model"] + "@" + medians["point"])


def lifetime_energy_kwh(medians: pd.DataFrame, predictions: np.ndarray | float) -> np.ndarray:
    """E(N) per row (rows) and N (columns): data + training + N x inference."""
    n = np.atleast_1d(np.asarray(predictions, dtype=float))
    data = medians[DATA].to_numpy() if DATA in medians else np.zeros(len(medians))
    fixed = data + medians[TRAIN].to_numpy()
    return fixed[:, None] + medians[INFERENCE].to_numpy()[:, None] * n[None, :]


def break_even_predictions(
    train_a_kwh: float, inference_a_kwh: float, train_b_kwh: float, inference_b_kwh: float
) -> float:
    """N after which a (cheaper to train) stops being cheaper than b; inf for never."""
    if not train_a_kwh < train_b_kwh:
        raise ValueError("a must be the one cheaper to train")
    if inference_a_kwh <= inference_b_kwh:
        return float("inf")
    return (train_b_kwh - train_a_kwh) / (inference_a_kwh - inference_b_kwh)


def break_even_table(medians: pd.DataFrame) -> pd.DataFrame:
    """One row per pair of rows of ``medians`` (variants at their medians), a first.

    ``break_even_predictions`` is N* (NaN where there is none); ``status`` says
    "crosses", "never" or "equal training"; ``lifetime_energy_kwh_at_break_even`` is
    where the two lifetime curves meet (for marking the crossing). One variant: no pair, the
    header alone.
    """
    table = medians.assign(variant=variant_labels(medians)).reset_index(drop=True)
    rows = []
    for i, j in itertools.combinations(range(len(table)), 2):
        a, b = table.iloc[i], table.iloc[j]
        if b[TRAIN] < a[TRAIN]:
            a, b = b, a
        n_star, status = float("nan"), "equal training"
        if a[TRAIN] < b[TRAIN]:
            n_star = break_even_predictions(a[TRAIN], a[INFERENCE], b[TRAIN], b[INFERENCE])
            status = "crosses" if np.isfinite(n_star) else "never"
            n_star = n_star if np.isfinite(n_star) else float("nan")
        at = np.nan
        if status == "crosses":
            at = float(a.get(DATA, 0.0) + a[TRAIN] + n_star * a[INFERENCE])
        rows.append(
            {
                "experiment": a["experiment"],
                "cheaper_to_train": a["variant"],
                "other": b["variant"],
                "train_energy_kwh_cheaper": a[TRAIN],
                "train_energy_kwh_other": b[TRAIN],
                "inference_energy_kwh_per_prediction_cheaper": a[INFERENCE],
                "inference_energy_kwh_per_prediction_other": b[INFERENCE],
                "status": status,
                "break_even_predictions": n_star,
                "lifetime_energy_kwh_at_break_even": at,
                "in_figure_range": status == "crosses"
                and PREDICTIONS_RANGE[0] <= n_star <= PREDICTIONS_RANGE[1],
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS)


def lifetime_curves(medians: pd.DataFrame, predictions: np.ndarray | None = None) -> pd.DataFrame:
    """Tidy lifetime energy against N (default: 1 to 1e9, 10 points a decade), per variant."""
    if predictions is None:
        predictions = np.logspace(0, 9, 91)
    energy = lifetime_energy_kwh(medians, predictions)
    labels = variant_labels(medians).to_numpy()
    return pd.DataFrame(
        {
            "experiment": np.repeat(medians["experiment"].to_numpy(), len(predictions)),
            "model": np.repeat(medians["model"].to_numpy(), len(predictions)),
            "point": np.repeat(medians["point"].to_numpy(), len(predictions)),
            "variant": np.repeat(labels, len(predictions)),
            "physics_bias": np.repeat(
                medians.get("physics_bias", pd.Series("none", index=medians.index)).to_numpy(),
                len(predictions),
            ),
            "predictions": np.tile(np.asarray(predictions, dtype=float), len(medians)),
            "lifetime_energy_kwh": energy.ravel(),
        }
    )
