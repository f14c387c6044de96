"""Energy to target error and learning-curve bands on hand-made histories."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workflow_scripts.analysis.targets import (
    curve_bands,
    default_levels,
    energy_to_target,
    majority_best,
    plateau_energy,
    round_up,
)


def _history(model: str, seed: int, errors: list[float], energies: list[float]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "experiment": "e",
            "model": model,
            "seed": seed,
            "step": np.arange(len(errors)),
            "val_mse": errors,
            "energy_kwh": energies,
        }
    )


def _histories() -> pd.DataFrame:
    return pd.concat(
        [
            _history("a", 0, [1, 0.5, 0.1, 0.05], [0, 1, 2, 3]),
            _history("a", 1, [1, 0.4, 0.2, 0.1], [0, 2, 4, 6]),
            _history("a", 2, [1, 0.9, 0.8, 0.7], [0, 1, 2, 3]),
            *(_history("b", s, [1, 0.01], [0, 10]) for s in range(3)),
        ],
        ignore_index=True,
    )


def test_default_levels_by_the_rule() -> None:
    # a's runs reach 0.05, 0.1, 0.7: a strict majority (2 of 3) reach 0.1; b's reach 0.01.
    best = majority_best(_histories())
    assert best.loc[("e", "a", "base")] == 0.1 and best.loc[("e", "b", "base")] == 0.01
    # Every run starts at 1: sqrt(1 x 0.1) = 0.316 -> 0.32 and 0.1 (both reach them),
    # sqrt(0.1 x 0.01) = 0.0316 -> 0.032 and 0.01 (only b).
    assert default_levels(_histories()) == [0.32, 0.1, 0.032, 0.01]
    # A start at or below the worst best leaves the loose level out.
    late = _histories().query("step > 0")
    assert default_levels(late) == [0.1, 0.032, 0.01]
    assert round_up(0.03162) == 0.032 and round_up(1.2e-3) == 1.2e-3 and round_up(1.201) == 1.3


def test_energy_to_target_by_hand() -> None:
    table = energy_to_target(_histories(), [0.3, 0.1, 0.032, 0.01]).set_index(["model", "level"])
    # Level 0.3: a's seeds reach it at 2 and 4 kWh, seed 2 never: median of (2, 4, inf) = 4.
    row = table.loc[("a", 0.3)]
    assert (row["n_seeds"], row["n_reached"], row["status"]) == (3, 2, "reached")
    assert row["train_energy_kwh_to_target_median"] == 4.0
    assert (row["train_energy_kwh_to_target_min"], row["train_energy_kwh_to_target_max"]) == (2, 4)
    # An error equal to the level counts as reaching it (seed 1 at 6 kWh).
    assert table.loc[("a", 0.1), "train_energy_kwh_to_target_median"] == 6.0
    assert table.loc[("a", 0.032), "status"] == "not reached"
    assert table.loc[("a", 0.032), "n_reached"] == 0
    assert np.isinf(table.loc[("a", 0.032), "train_energy_kwh_to_target_median"])
    assert table.loc[("b", 0.01), "train_energy_kwh_to_target_median"] == 10.0
    assert set(table["tracked_error"]) == {"val_mse"}
    # Levels from the config replace the defaults.
    assert set(energy_to_target(_histories(), [0.5])["level"]) == {0.5}


def test_a_single_reaching_seed_of_three_is_not_reached() -> None:
    table = energy_to_target(_histories(), [0.06]).set_index("model")
    assert table.loc["a", "n_reached"] == 1 and table.loc["a", "status"] == "not reached"


def test_curve_bands_interpolate_in_log_log_without_extrapolating() -> None:
    histories = pd.concat(
        [
            _history("a", 0, [1, 0.01], [1, 100]),  # at 10 kWh: 0.1
            _history("a", 1, [1, 0.01], [1, 10]),  # at 10 kWh: 0.01; ends there
        ]
    )
    bands = curve_bands(histories, n_grid=3).set_index("cumulative_train_energy_kwh")
    at_10 = bands.loc[10.0]
    assert at_10["n_seeds"] == 2
    assert at_10["error_median"] == pytest.approx(0.055)
    assert (at_10["error_min"], at_10["error_max"]) == pytest.approx((0.01, 0.1))
    assert bands.loc[100.0, "n_seeds"] == 1 and bands.loc[100.0, "error_median"] == pytest.approx(
        0.01
    )


def test_the_plateau_is_the_first_evaluation_within_the_tolerance_of_the_final_error() -> None:
    errors = [1.0, 0.5, 0.12, 0.105, 0.2, 0.1]  # final 0.1; within 10 %: <= 0.11
    run = _history("a", 0, errors, [0, 1, 2, 3, 4, 5])
    plateau = plateau_energy(run, "val_mse", tolerance=0.1).iloc[0]
    assert (plateau["final_error"], plateau["plateau_step"]) == (0.1, 3)
    assert (plateau["plateau_error"], plateau["plateau_energy_kwh"]) == (0.105, 3)
    # No tolerance: the first evaluation at or below the final error itself.
    assert plateau_energy(run, "val_mse", tolerance=0.0).iloc[0]["plateau_step"] == 5
    # A wide one: where the curve first came within 50 % (0.12 <= 0.15).
    assert plateau_energy(run, "val_mse", tolerance=0.5).iloc[0]["plateau_energy_kwh"] == 2
    with pytest.raises(ValueError, match="at least 0"):
        plateau_energy(run, "val_mse", tolerance=-0.1)
