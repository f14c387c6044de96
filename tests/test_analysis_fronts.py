"""Pareto fronts and break-even on small hand-made tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workflow_scripts.analysis.break_even import (
    break_even_predictions,
    break_even_table,
    lifetime_curves,
)
from workflow_scripts.analysis.fronts import front_line, front_table, pareto_members


def test_pareto_members_by_hand() -> None:
    #                 A    B    C    D(=B) E    F (no cost)
    costs = np.array([1.0, 2.0, 3.0, 2.0, 4.0, np.nan])
    errors = np.array([10.0, 5.0, 6.0, 5.0, 1.0, 0.1])
    # C is beaten by B in both; D duplicates B (only the first counts); F lacks a cost.
    assert pareto_members(costs, errors).tolist() == [True, True, False, False, True, False]


def test_front_table_marks_members_per_cost_across_points() -> None:
    medians = pd.DataFrame(
        {
            "experiment": "e",
            "model": ["a", "a", "b"],
            "point": ["base", "small", "base"],
            "test_mse_median": [1.0, 2.0, 3.0],
            "train_energy_kwh_median": [2.0, 1.0, 1.5],
            "lifecycle_energy_kwh_median": [2.0, 3.0, 5.0],
        }
    )
    table = front_table(
        medians,
        error="test_mse",
        costs={"train": "train_energy_kwh", "lifecycle": "lifecycle_energy_kwh"},
    )
    # b costs more to train than a@small and has a larger error: off the training front.
    assert table["on_front_train"].tolist() == [True, True, False]
    # Over the lifecycle a@base is cheapest and most accurate: the front is it alone.
    assert table["on_front_lifecycle"].tolist() == [True, False, False]
    line = front_line(table, error="test_mse", cost="train_energy_kwh", member="on_front_train")
    assert line["train_energy_kwh_median"].tolist() == [1.0, 2.0]


def _medians() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "experiment": "e",
            "model": ["a", "b", "c", "d"],
            "point": "base",
            "physics_bias": ["none", "weak", "strong", "none"],
            "data_energy_kwh_median": 0.5,
            "train_energy_kwh_median": [1.0, 3.0, 2.0, 1.0],
            "inference_energy_kwh_per_prediction_median": [0.01, 0.005, 0.001, 0.02],
        }
    )


def test_break_even_by_hand() -> None:
    table = break_even_table(_medians()).set_index(["cheaper_to_train", "other"])
    # a: 1 + 0.01 N, b: 3 + 0.005 N -> equal at N = 2 / 0.005 = 400, at 0.5 + 1 + 4 = 5.5 kWh.
    assert table.loc[("a", "b"), "status"] == "crosses"
    assert table.loc[("a", "b"), "break_even_predictions"] == pytest.approx(400.0)
    assert table.loc[("a", "b"), "lifetime_energy_kwh_at_break_even"] == pytest.approx(5.5)
    assert table.loc[("a", "c"), "break_even_predictions"] == pytest.approx(1.0 / 0.009)
    # c is cheaper to train and to run than b: b never catches up.
    assert table.loc[("c", "b"), "status"] == "never"
    assert np.isnan(table.loc[("c", "b"), "break_even_predictions"])
    # a and d train for the same energy: neither is the cheaper to train.
    assert table.loc[("a", "d"), "status"] == "equal training"
    assert len(table) == 6


def test_break_even_does_not_depend_on_the_shared_data_stage() -> None:
    charged = break_even_table(_medians().assign(data_energy_kwh_median=100.0))
    free = break_even_table(_medians().drop(columns="data_energy_kwh_median"))
    assert np.allclose(
        charged["break_even_predictions"], free["break_even_predictions"], equal_nan=True
    )
    with pytest.raises(ValueError, match="cheaper to train"):
        break_even_predictions(2.0, 0.1, 1.0, 0.2)


def test_lifetime_curves_span_one_to_a_billion_and_meet_at_break_even() -> None:
    curves = lifetime_curves(_medians())
    assert curves["predictions"].min() == 1.0 and curves["predictions"].max() == 1e9
    at = lifetime_curves(_medians(), np.array([400.0])).set_index("model")["lifetime_energy_kwh"]
    assert at["a"] == pytest.approx(at["b"]) == pytest.approx(5.5)
    assert set(curves["physics_bias"]) == {"none", "weak", "strong"}
