"""Combined accuracy-carbon scores per run, shown beside the raw figures, never instead.

G-score (the study's): over the runs of one experiment, take log error and log CO2, min-max
normalise each to [0, 1] over those runs, and score sqrt(norm log error x norm log CO2);
lower is better. It is relative to the runs compared (adding a run can change every score),
and a run best in either figure scores 0 whatever the other: a geometric mean of 0 and
anything is 0. Where all runs share one value, that factor normalises to 0. Computed twice:
with training CO2 (``g_score_train``, the study's) and lifecycle CO2 (``g_score_lifecycle``).

EcoL2 (Kapoor et al., arXiv 2505.12556): (1 - R^(1/ln alpha)) / (1 + beta x C), R the
relative L2 error, C the lifetime CO2 (data + training + N predictions, in g); higher is
better, at most 1. alpha > 1 sets how much accuracy at low errors counts: with the default
alpha = 10, R = 0.1 gives 0.63 and R = 0.01 gives 0.86 in the numerator. beta (per g) sets the
CO2 at which the score halves, 1/beta; an absolute beta would make the denominator ~1 for the
oscillator (mg) and dominant for a GPU run (kg), so by default beta = 1 / (median lifetime
CO2 of the experiment's runs): carbon weighs the same in every experiment, and scores
compare within one experiment only (as the G-score's). N is the summary's
``lifecycle_predictions`` (config ``carbon.lifecycle_predictions``). For R >= 1 (worse than
predicting the mean: the shear flow's VRMSE can exceed 1) the numerator is <= 0; it is
clipped to 0 (no credit for accuracy) and the run flagged in ``ecol2_clipped``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

DEFAULT_ALPHA = 10.0


def normalised_log(values: np.ndarray) -> np.ndarray:
    """(log v - min log v) / (max - min) over the values; 0 where all are equal; NaN for v<=0."""
    values = np.asarray(values, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.where(values > 0, np.log(values), np.nan)
    low, high = np.nanmin(logs), np.nanmax(logs)
    if not high > low:
        return np.where(np.isnan(logs), np.nan, 0.0)
    return (logs - low) / (high - low)


def g_score(errors: np.ndarray, co2_g: np.ndarray) -> np.ndarray:
    """The study's sqrt(normalised log error x normalised log CO2); lower is better."""
    return np.sqrt(normalised_log(errors) * normalised_log(co2_g))


def ecol2(
    relative_l2: np.ndarray, lifetime_co2_g: np.ndarray, *, alpha: float, beta_per_g: float
) -> tuple[np.ndarray, np.ndarray]:
    """EcoL2 and whether its numerator was clipped at 0 (R >= 1)."""
    if not alpha > 1:
        raise ValueError("EcoL2 needs alpha > 1 (1/ln alpha must be positive)")
    r = np.asarray(relative_l2, dtype=float)
    numerator = 1.0 - r ** (1.0 / math.log(alpha))
    clipped = numerator < 0
    score = np.clip(numerator, 0.0, None) / (1.0 + beta_per_g * np.asarray(lifetime_co2_g))
    return score, clipped


@dataclass(frozen=True)
class ScoreParameters:
    alpha: float
    beta_per_g: float
    lifecycle_predictions: float
    error: str
    relative_error: str


def add_scores(
    runs: pd.DataFrame,
    *,
    error: str,
    relative_error: str,
    alpha: float = DEFAULT_ALPHA,
    beta_per_g: float | None = None,
) -> tuple[pd.DataFrame, ScoreParameters]:
    """The runs with g_score_train, g_score_lifecycle, ecol2 and ecol2_clipped columns.

    ``runs`` holds one experiment; ``lifecycle_co2_g`` is the lifetime CO2 at the N the
    table was computed for (``lifecycle_predictions``).
    """
    if runs["experiment"].nunique() > 1:
        raise ValueError("scores are relative to the runs of one experiment")
    lifetime = runs["lifecycle_co2_g"].to_numpy(dtype=float)
    if beta_per_g is None:
        typical = float(np.nanmedian(lifetime))
        if not typical > 0:
            raise ValueError("EcoL2's default beta needs a positive median lifetime CO2")
        beta_per_g = 1.0 / typical
    scored = runs.copy()
    scored["g_score_train"] = g_score(runs[error].to_numpy(), runs["train_co2_g"].to_numpy())
    scored["g_score_lifecycle"] = g_score(runs[error].to_numpy(), lifetime)
    scored["ecol2"], scored["ecol2_clipped"] = ecol2(
        runs[relative_error].to_numpy(), lifetime, alpha=alpha, beta_per_g=beta_per_g
    )
    n = (
        float(runs["lifecycle_predictions"].iloc[0])
        if "lifecycle_predictions" in runs
        else math.nan
    )
    return scored, ScoreParameters(alpha, beta_per_g, n, error, relative_error)
