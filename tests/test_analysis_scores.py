"""G-score and EcoL2 against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from workflow_scripts.analysis.scores import add_scores, ecol2, g_score, normalised_log


def test_g_score_by_hand() -> None:
    # log errors normalise to 1, 0.5, 0; log CO2 to 0, 0.5, 1: G = sqrt(product).
    errors, co2 = np.array([1e-1, 1e-2, 1e-3]), np.array([10.0, 100.0, 1000.0])
    assert g_score(errors, co2) == pytest.approx([0.0, 0.5, 0.0])
    assert g_score(np.array([1e-1, 1e-3]), np.array([1e3, 10.0])) == pytest.approx([1.0, 0.0])
    assert normalised_log(np.array([2.0, 2.0])).tolist() == [0.0, 0.0]


def test_ecol2_by_hand_and_clipped_above_one() -> None:
    # alpha = e^2: R^(1/ln alpha) = sqrt(R). R = 0.25 -> 1 - 0.5; beta C = 1 -> / 2.
    score, clipped = ecol2(
        np.array([0.25, 4.0]), np.array([100.0, 100.0]), alpha=math.e**2, beta_per_g=0.01
    )
    assert score == pytest.approx([0.25, 0.0])
    assert clipped.tolist() == [False, True]
    with pytest.raises(ValueError, match="alpha > 1"):
        ecol2(np.array([0.1]), np.array([1.0]), alpha=1.0, beta_per_g=1.0)


def test_add_scores_defaults_beta_to_the_median_lifetime_co2() -> None:
    runs = pd.DataFrame(
        {
            "experiment": "e",
            "test_mse": [1e-2, 1e-4, 1e-3],
            "test_rel_l2": [0.1, 0.01, 1.5],
            "train_co2_g": [1.0, 10.0, 100.0],
            "lifecycle_co2_g": [2.0, 4.0, 8.0],
            "lifecycle_predictions": 1000,
        }
    )
    scored, parameters = add_scores(runs, error="test_mse", relative_error="test_rel_l2")
    assert parameters.beta_per_g == pytest.approx(0.25) and parameters.alpha == 10.0
    assert parameters.lifecycle_predictions == 1000
    # R = 0.1, alpha = 10: 1 - 0.1^(1/ln 10) = 1 - e^-1; C = 2 g: / (1 + 0.5).
    assert scored["ecol2"].iloc[0] == pytest.approx((1 - math.exp(-1)) / 1.5)
    assert scored["ecol2_clipped"].tolist() == [False, False, True]
    # G over training CO2: errors 1, 0, 0.5; CO2 0, 0.5, 1.
    assert scored["g_score_train"].tolist() == pytest.approx([0.0, 0.0, math.sqrt(0.5)])
    with pytest.raises(ValueError, match="positive median lifetime CO2"):
        add_scores(runs.assign(lifecycle_co2_g=0.0), error="test_mse", relative_error="test_rel_l2")
    with pytest.raises(ValueError, match="one experiment"):
        add_scores(runs.assign(experiment=["a", "b", "b"]), error="test_mse", relative_error="x")
