"""The claims table: verdicts from synthetic analysis tables, and verdicts that flip when the
numbers do."""

from __future__ import annotations

import pandas as pd
import pytest
from test_analysis_tables import OSCILLATOR, analyzed, synthetic_summary

from workflow_scripts.analysis.claims import check_claims

BURGERS = {
    "mlp": ("none", 1e-3, 4e-3, 1e-9),
    "pinn": ("weak", 1e-4, 3e-3, 1e-9),
    "pinn_data": ("weak", 1e-5, 1e-3, 1e-9),
    "pinn_hard": ("strong", 1e-9, 2e-3, 1e-9),
}
SHEAR_FLOW = {  # (bias, VRMSE^2 as test_mse, train kWh, inference kWh)
    "unet": ("none", 0.3**2, 1e-2, 1e-6),
    "unet_physloss": ("weak", 0.32**2, 1.2e-2, 1e-6),
    "flow_matching": ("weak", 0.8**2, 8e-3, 2e-5),
    "fno": ("strong", 0.5**2, 1.5e-3, 4e-6),
    "fno_divfree": ("strong", 0.55**2, 1.7e-3, 5e-6),
}
# The U-Net's width sweep: error / scale, training energy x scale.
UNET_WIDTHS = {"unet": {"width4": 0.2, "width8": 0.3}}
EXPECTED = {
    ("1", "oscillator"): "supported",
    ("2", "burgers"): "supported",
    ("3", "shear_flow"): "supported",
    ("4", "shear_flow"): "supported",
    ("5", "shear_flow"): "supported",
    ("6", "oscillator"): "supported",
    ("6", "burgers"): "contradicted",  # the C-PINN trains longer than the D-PINN
    ("6", "shear_flow"): "contradicted",  # the U-Net with a physics loss costs more than the U-Net
    ("7", "shear_flow"): "supported",
}


def _statistics(include: tuple[str, ...] = ("oscillator", "burgers", "shear_flow")) -> dict:
    summaries = {
        "oscillator": synthetic_summary(
            "oscillator", {**OSCILLATOR, "pinn_hard": ("strong", 1e-4, 5e-4, 5e-9)}
        ),
        "burgers": synthetic_summary("burgers", BURGERS),
        "shear_flow": synthetic_summary("shear_flow", SHEAR_FLOW, points=UNET_WIDTHS),
    }
    return {
        name: analyzed(summary)["statistics"]
        for name, summary in summaries.items()
        if name in include
    }


@pytest.fixture(scope="module")
def statistics() -> dict[str, pd.DataFrame]:
    return _statistics()


def _verdicts(table: pd.DataFrame) -> dict[tuple[str, str], str]:
    return {(r.claim_id, r.experiment): r.verdict for r in table.itertuples()}


def _set(
    statistics: dict,
    experiment: str,
    models: str | tuple[str, ...],
    metric: str,
    median: float,
    spread: float = 0.05,
) -> dict:
    """A copy of the statistics with one figure of some models replaced (median, interval
    +-spread)."""
    models = (models,) if isinstance(models, str) else models
    changed = {name: table.copy() for name, table in statistics.items()}
    table = changed[experiment]
    rows = table["model"].isin(models) & (table["metric"] == metric) & (table["point"] == "base")
    assert rows.sum() == len(models)
    table.loc[rows, ["median", "ci_low", "ci_high"]] = [
        median,
        median * (1 - spread),
        median * (1 + spread),
    ]
    return changed


def test_claims_table_has_every_claim_with_numbers_and_sources(statistics) -> None:
    table = check_claims(statistics)
    assert list(table.columns) == [
        "claim_id",
        "experiment",
        "claim",
        "verdict",
        "numbers",
        "reason",
        "source",
    ]
    assert _verdicts(table) == EXPECTED
    assert table["source"].str.contains("2509.24517").all()
    one = table.set_index("claim_id").loc["1"]
    assert "pinn" in one["numbers"] and "mlp" in one["numbers"] and "(n=5)" in one["numbers"]


@pytest.mark.parametrize(
    ("claim", "experiment", "model", "metric", "median"),
    [
        ("1", "oscillator", "pinn", "test_mse", 1.0),  # the PINN now extrapolates worse
        ("2", "burgers", "pinn", "test_mse", 1e-12),  # the B-PINN now beats the C-PINN
        ("3", "shear_flow", "fno", "vrmse", 0.1),  # an FNO now beats both U-Nets
        ("4", "shear_flow", "unet", "train_co2_g", 1e-4),  # the U-Net now trains cheapest
        ("5", "shear_flow", "fno", "inference_co2_g_per_prediction", 1e-8),
        ("6", "oscillator", "pinn_hard", "train_co2_g", 10.0),  # strong prior, most carbon
        # the cheap priors now cost more than the U-Net at any width
        ("7", "shear_flow", ("fno", "fno_divfree"), "train_co2_g", 100.0),
    ],
)
def test_a_verdict_flips_with_its_numbers(
    statistics, claim, experiment, model, metric, median
) -> None:
    changed = check_claims(_set(statistics, experiment, model, metric, median))
    assert _verdicts(changed)[(claim, experiment)] == "contradicted"
    assert _verdicts(check_claims(statistics))[(claim, experiment)] == "supported"


def test_overlapping_intervals_are_inconclusive(statistics) -> None:
    # The PINN's error interval now reaches the MLP's.
    table = statistics["oscillator"]
    mlp = table[(table["model"] == "mlp") & (table["metric"] == "test_mse")]["median"].iloc[0]
    changed = _set(statistics, "oscillator", "pinn", "test_mse", mlp / 2, spread=0.9)
    row = check_claims(changed).set_index(["claim_id", "experiment"]).loc[("1", "oscillator")]
    assert row["verdict"] == "inconclusive" and "overlap" in row["reason"]
    # Lower by less than the 10x "far better" claims: inconclusive too, and says so.
    changed = _set(statistics, "oscillator", "pinn", "test_mse", mlp / 3)
    row = check_claims(changed).set_index(["claim_id", "experiment"]).loc[("1", "oscillator")]
    assert row["verdict"] == "inconclusive" and "less than the 10x" in row["reason"]


def test_what_is_missing_is_said() -> None:
    statistics = _statistics(include=("oscillator", "shear_flow"))
    # No sweep points: claim 7 lacks the data-driven model's width sweep.
    shear = statistics["shear_flow"]
    statistics["shear_flow"] = shear[shear["point"] == "base"]
    table = check_claims(statistics).set_index(["claim_id", "experiment"])
    assert table.loc[("2", "burgers"), "verdict"] == "inconclusive"
    assert table.loc[("2", "burgers"), "reason"] == "experiment burgers not run"
    assert table.loc[("7", "shear_flow"), "verdict"] == "inconclusive"
    assert "no sweep of unet's width" in table.loc[("7", "shear_flow"), "reason"]
    # A variant the claim names was not run.
    osc = statistics["oscillator"]
    statistics["oscillator"] = osc[osc["model"] != "pinn"]
    row = check_claims(statistics).set_index(["claim_id", "experiment"]).loc[("1", "oscillator")]
    assert row["verdict"] == "inconclusive" and "variant pinn not run" in row["reason"]


def test_one_seed_gives_no_interval_and_no_verdict() -> None:
    summary = synthetic_summary("oscillator", OSCILLATOR, seeds=1)
    table = check_claims({"oscillator": analyzed(summary)["statistics"]})
    row = table.set_index(["claim_id", "experiment"]).loc[("1", "oscillator")]
    assert row["verdict"] == "inconclusive" and "fewer than 2 seeds" in row["reason"]
