"""The claims table: parts and verdicts from synthetic and hand-made per-run tables and learning
curves, cost judged at matched accuracy, and verdicts that flip when the numbers do."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from test_analysis_tables import OSCILLATOR, analyzed, synthetic_histories, synthetic_summary

from workflow_scripts.analysis.claims import (
    COLUMNS,
    Claim,
    Part,
    check_claims,
    not_checked,
    seed_limits,
)
from workflow_scripts.analysis.comparisons import Lower, fold, ratio_verdict, times
from workflow_scripts.analysis.effect_sizes import Effect
from workflow_scripts.analysis.evidence import Evidence
from workflow_scripts.analysis.matched_cost import CurveCost, FrontDominance
from workflow_scripts.analysis.statistics import summarize_over_seeds

BURGERS = {
    "mlp": ("none", 1e-3, 4e-3, 1e-9),
    "pinn": ("weak", 1e-4, 3e-3, 1e-9),
    "pinn_data": ("weak", 1e-5, 1e-3, 1e-9),
    "pinn_hard": ("strong", 1e-9, 2e-3, 1e-9),
}
SHEAR_FLOW = {  # (bias, VRMSE^2 as test_mse, train kWh, inference kWh)
    "unet": ("none", 0.3**2, 1e-2, 1e-6),
    "unet_physloss": ("weak", 0.6**2, 1.2e-2, 1e-6),
    "flow_matching": ("weak", 0.8**2, 8e-3, 2e-5),
    "fno": ("strong", 0.5**2, 1.5e-3, 4e-6),
    "fno_divfree": ("strong", 0.55**2, 1.7e-3, 5e-6),
}
# Sweeps: error / scale, training energy x scale.
UNET_WIDTHS = {"unet": {"width4": 0.2, "width8": 0.3}}
BUDGETS = {"mlp": {"steps250": 0.5}, "pinn": {"steps250": 0.5}}
EXPECTED = {
    ("1", "oscillator"): "supported",
    ("1", "oscillator_undamped"): "supported",
    ("2", "burgers"): "supported",
    ("3", "shear_flow"): "supported",
    ("4", "shear_flow"): "supported",
    ("5", "shear_flow"): "supported",
    ("6", "oscillator"): "inconclusive",  # equal inference costs: tau's interval spans 0
    ("6", "burgers"): "inconclusive",
    ("6", "shear_flow"): "supported",
    ("7", "shear_flow"): "supported",
}
SUMMARIES = {
    "oscillator": lambda seeds: synthetic_summary(
        "oscillator", OSCILLATOR, seeds=seeds, points=BUDGETS
    ),
    # The oscillator's card reused under another name (config/paper.yaml's undamped case):
    # its own claim-1 rows, named by the key.
    "oscillator_undamped": lambda seeds: synthetic_summary(
        "oscillator", OSCILLATOR, seeds=seeds, points=BUDGETS
    ),
    "burgers": lambda seeds: synthetic_summary("burgers", BURGERS, seeds=seeds),
    "shear_flow": lambda seeds: synthetic_summary(
        "shear_flow", SHEAR_FLOW, seeds=seeds, points=UNET_WIDTHS
    ),
}


def _tables(seeds: int = 3, include=tuple(SUMMARIES)) -> dict[str, dict[str, pd.DataFrame]]:
    tables = {}
    for name in include:
        summary = SUMMARIES[name](seeds)
        tables[name] = analyzed(summary, synthetic_histories(summary))
    return tables


def _check(tables: dict) -> pd.DataFrame:
    return check_claims(
        {n: t["runs"] for n, t in tables.items()},
        {n: t["statistics"] for n, t in tables.items()},
        {n: t["run_curves"] for n, t in tables.items()},
        tracked_error="val_mse",
    )


@pytest.fixture(scope="module")
def tables() -> dict:
    return _tables()


@pytest.fixture(scope="module")
def claims(tables) -> pd.DataFrame:
    return _check(tables)


def _verdicts(table: pd.DataFrame) -> dict[tuple[str, str], str]:
    first = table.drop_duplicates(["claim_id", "experiment"])
    return {(r.claim_id, r.experiment): r.claim_verdict for r in first.itertuples()}


def _scaled(tables: dict, experiment: str, models, columns, factor: float) -> dict:
    """A copy of the tables with some columns of some models' runs and learning curves
    multiplied by ``factor``."""
    models = (models,) if isinstance(models, str) else models
    changed = {name: dict(t) for name, t in tables.items()}
    for table in ("runs", "run_curves"):
        frame = changed[experiment][table].copy()
        rows = frame["model"].isin(models)
        for column in set(columns) & set(frame.columns):
            frame.loc[rows, column] *= factor
        changed[experiment][table] = frame
    return changed


def test_every_claim_has_its_parts_verdicts_effects_and_a_sentence(claims) -> None:
    assert list(claims.columns) == COLUMNS
    assert _verdicts(claims) == EXPECTED
    assert claims["source"].str.contains("2509.24517").all()
    one = claims[(claims["claim_id"] == "1") & (claims["experiment"] == "oscillator")]
    assert set(one["part"]) == {
        "accuracy: far better extrapolation",
        "cost: lower training carbon at matched accuracy",
        "training CO2 at an equal step budget (secondary: a physics step costs more by "
        "construction)",
    }
    assert one["decides"].tolist() == [True, True, True, False]
    assert (one["statistic"] == "ratio of medians").all()
    assert one["p_value"].between(0, 1).all() and (one["n_a"] == 3).all()
    # The secondary part is not in the Holm family.
    assert one.loc[~one["decides"], "p_holm"].isna().all()
    sentence = one["sentence"].iloc[0]
    assert sentence.startswith("Supported: ")
    assert "pinn@steps250 reaches" in sentence and "its training CO2" in sentence
    # Every number in the sentence is in the table's numbers too: medians from the runs.
    assert "(n=3)" in one["numbers"].iloc[0]


def test_a_dearer_step_dominant_across_its_sweep_is_cheaper_at_matched_accuracy() -> None:
    # The PINN costs 3x the MLP per step (equal budgets: 3x the carbon), yet its 250-step
    # point is more accurate than the MLP's best at less carbon than the MLP's best.
    points = {  # model, point -> (error, cost per seed)
        ("mlp", "steps250"): ([3.0, 3.1, 2.9], [0.5, 0.52, 0.49]),
        ("mlp", "base"): ([2.0, 2.1, 1.9], [4.0, 4.1, 3.9]),
        ("pinn", "steps250"): ([0.004, 0.0042, 0.0041], [1.5, 1.55, 1.52]),
        ("pinn", "base"): ([0.002, 0.0021, 0.0019], [12.0, 12.2, 11.9]),
    }
    evidence = _hand_made(points)
    [result] = FrontDominance("test_mse", "train_co2_g", ("pinn",), ("mlp",)).evaluate(evidence)
    assert result.verdict == "supported"
    assert result.phrase.startswith("pinn@steps250 reaches 488x lower test MSE than mlp (mlp's")
    assert result.effect.estimate == pytest.approx(1.52 / 4.0)
    # Its reason quotes the end of the cost interval that decides it.
    assert f"costs at most {times(result.effect.high)} mlp's training CO2" in result.reason
    assert "(the cost ratio interval's upper end)" in result.reason
    # At an equal budget the PINN is dearer: that comparison would have said the opposite.
    flipped = _hand_made({k: (e, c) for k, (e, c) in points.items() if k[1] == "base"})
    [equal] = FrontDominance("test_mse", "train_co2_g", ("pinn",), ("mlp",)).evaluate(flipped)
    assert equal.verdict == "inconclusive" and "more accurate costs more" in equal.reason


def test_a_variant_that_never_reaches_the_rivals_error_is_not_cheaper() -> None:
    # The MLP costs a tenth of the PINN but never reaches the PINN's error.
    points = {
        ("mlp", "base"): ([1.0, 1.1, 0.9], [0.1, 0.11, 0.09]),
        ("pinn", "base"): ([0.01, 0.011, 0.009], [1.0, 1.1, 0.9]),
    }
    evidence = _hand_made(points)
    [result] = FrontDominance("test_mse", "train_co2_g", ("mlp",), ("pinn",)).evaluate(evidence)
    assert result.verdict == "inconclusive" and "more accurate costs more" in result.reason
    # Along the learning curves the common level is the MLP's best (1.0, reached by 2 of its
    # 3 seeds): the seed that never gets there counts as +inf, so the MLP's 4x lower median
    # energy is no "cheaper" either.
    [along] = CurveCost(("mlp",), ("pinn",)).evaluate(evidence)
    assert along.effect.estimate == pytest.approx(0.25) and along.effect.high == np.inf
    assert along.verdict == "inconclusive" and "mlp 0.1 [0.09, inf]" in along.numbers


def _hand_made(points: dict) -> Evidence:
    """Evidence from per-seed (error, cost) of each (model, point), with learning curves
    from 10 down to each run's error, energy growing linearly to its cost."""
    runs, curves = _hand_made_tables(points)
    return Evidence(
        "oscillator",
        runs,
        summarize_over_seeds(runs),
        curves,
        tracked_error="val_mse",
        plateau_tolerance=0.1,
    )


def _hand_made_claims(points: dict, *parts: Part) -> pd.DataFrame:
    """The claims table of one claim made of ``parts``, on :func:`_hand_made_tables`."""
    runs, curves = _hand_made_tables(points)
    claim = Claim("t", "oscillator", "A test claim.", "tests", parts)
    return check_claims(
        {"oscillator": runs},
        {"oscillator": summarize_over_seeds(runs)},
        {"oscillator": curves},
        tracked_error="val_mse",
        claims=(claim,),
    )


def _hand_made_tables(points: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The runs table and learning curves of :func:`_hand_made`."""
    runs, curves = [], []
    for (model, point), (errors, costs) in points.items():
        for seed, (error, cost) in enumerate(zip(errors, costs, strict=True)):
            bias = "none" if model == "mlp" else "weak"
            runs.append(
                {
                    "experiment": "oscillator",
                    "model": model,
                    "point": point,
                    "physics_bias": bias,
                    "seed": seed,
                    "test_mse": error,
                    "train_co2_g": cost,
                    "train_energy_kwh": cost,
                }
            )
            fraction = np.linspace(0, 1, 11)
            curves.append(
                pd.DataFrame(
                    {
                        "experiment": "oscillator",
                        "model": model,
                        "point": point,
                        "seed": seed,
                        "step": np.arange(11),
                        "val_mse": 10 ** (1 - fraction) * error**fraction,
                        "energy_kwh": cost * fraction,
                    }
                )  # fmt: skip
            )
    return pd.DataFrame(runs), pd.concat(curves, ignore_index=True)


def test_a_sentence_names_the_comparisons_that_disagree_within_a_part() -> None:
    # The PINN beats the MLP in every seed but loses to another prior in every seed: the
    # part is contradicted, and its sentence must not read as if every comparison agreed.
    costs = [1.0, 1.1, 0.9]
    points = {
        ("pinn", "base"): ([0.1, 0.11, 0.09], costs),
        ("mlp", "base"): ([1.0, 1.1, 0.9], costs),
        ("other", "base"): ([0.01, 0.011, 0.009], costs),
    }
    part = Part("accuracy", (Lower("test_mse", ("pinn",), ("mlp", "other"), at="base"),))
    table = _hand_made_claims(points, part)
    assert table["verdict"].tolist() == ["supported", "contradicted"]
    sentence = table["sentence"].iloc[0]
    assert sentence.startswith("Contradicted: pinn has 10x higher test MSE than other")
    assert "which contradicts the claim, but pinn has 10x lower test MSE than mlp" in sentence
    assert sentence.endswith("which supports the claim.")
    # The other prior no better than the MLP: every comparison agrees, and the sentence says
    # the closest call alone.
    points[("other", "base")] = ([1.0, 1.1, 0.9], costs)
    agreed = _hand_made_claims(points, part)["sentence"].iloc[0]
    assert agreed.startswith("Supported: pinn has 10x lower test MSE than")
    assert "contradicts" not in agreed and agreed.count("10x lower") == 1


def test_an_inconclusive_comparison_is_never_significant() -> None:
    # Each side dominates somewhere: the PINN's base point beats the MLP's best in every seed
    # (the witness, p = 1/20 = 0.05, alone in its family: p_holm 0.05), while a cheap MLP
    # point beats the PINN's cheap one. The verdict is inconclusive: not significant.
    points = {
        ("pinn", "base"): ([0.01, 0.011, 0.009], [1.0, 1.1, 0.9]),
        ("pinn", "steps250"): ([2.0, 2.1, 1.9], [0.05, 0.052, 0.048]),
        ("mlp", "base"): ([1.0, 1.1, 0.9], [2.0, 2.1, 1.9]),
        ("mlp", "steps250"): ([1.5, 1.6, 1.4], [0.02, 0.021, 0.019]),
    }
    parts = (
        Part("cost", (FrontDominance("test_mse", "train_co2_g", ("pinn",), ("mlp",)),)),
        Part("secondary", (Lower("train_co2_g", ("pinn",), ("mlp",), at="base"),), False),
    )
    cost, secondary = _hand_made_claims(points, *parts).itertuples()
    assert cost.verdict == "inconclusive" and "each dominates somewhere" in cost.reason
    assert cost.p_holm == pytest.approx(0.05)
    assert cost.significant is False
    # No p_holm (a secondary part, outside the Holm family): no significance either way.
    assert math.isnan(secondary.p_holm) and math.isnan(secondary.significant)
    # Without the MLP's cheap point the PINN's win stands alone: supported, and significant.
    del points[("mlp", "steps250")]
    cost, _ = _hand_made_claims(points, *parts).itertuples()
    assert cost.verdict == "supported" and cost.p_holm == pytest.approx(0.05)
    assert cost.significant is True


@pytest.mark.parametrize(
    ("claim", "experiment", "models", "columns", "factor"),
    [
        ("1", "oscillator", "pinn", ["test_extrap_mse"], 1e4),  # the PINN extrapolates worse
        ("2", "burgers", "pinn", ["test_mse"], 1e-6),  # the B-PINN now beats the C-PINN
        ("3", "shear_flow", "fno", ["vrmse"], 1e-2),  # an FNO now beats both U-Nets
        # the FNOs now train dearest, also at matched accuracy
        ("4", "shear_flow", ("fno", "fno_divfree"), ["train_co2_g", "energy_kwh"], 100.0),
        ("5", "shear_flow", "fno", ["inference_co2_g_per_prediction"], 1e-3),
        # the priors now cost far more along their curves than the U-Net at any width
        (
            "7",
            "shear_flow",
            ("fno", "fno_divfree", "flow_matching", "unet_physloss"),
            ["energy_kwh"],
            100.0,
        ),
    ],
)
def test_a_verdict_flips_with_its_numbers(
    tables, claims, claim, experiment, models, columns, factor
) -> None:
    assert _verdicts(claims)[(claim, experiment)] == "supported"
    changed = _check(_scaled(tables, experiment, models, columns, factor))
    assert _verdicts(changed)[(claim, experiment)] == "contradicted"


def test_claim_6_reads_the_prior_ordering_as_a_rank_correlation(tables, claims) -> None:
    shear = claims[(claims["claim_id"] == "6") & (claims["experiment"] == "shear_flow")]
    assert (shear["statistic"] == "Kendall tau").all()
    training = shear[shear["part"].str.startswith("training: ")].iloc[0]
    assert training["estimate"] < 0 and training["ci_high"] < 0
    assert f"tau at most {training['ci_high']:.3g} (its interval's upper end)" in training["reason"]
    # Strong priors made dearest to train at matched accuracy: the correlation turns.
    changed = _check(_scaled(tables, "shear_flow", ("fno", "fno_divfree"), ["energy_kwh"], 1e3))
    row = changed[(changed["claim_id"] == "6") & (changed["experiment"] == "shear_flow")]
    assert row["part_verdict"].iloc[0] == "contradicted"


def test_overlap_and_a_missed_factor_are_inconclusive_and_say_so(tables) -> None:
    # The PINN only 3x better than the MLP: lower in every seed, short of the 10x claimed.
    mlp = tables["oscillator"]["runs"].query("model == 'mlp'")["test_extrap_mse"].min()
    pinn = tables["oscillator"]["runs"].query("model == 'pinn'")["test_extrap_mse"].max()
    changed = _check(_scaled(tables, "oscillator", "pinn", ["test_extrap_mse"], mlp / pinn / 3))
    accuracy = changed[changed["part"] == "accuracy: far better extrapolation"].iloc[0]
    assert accuracy["verdict"] == "inconclusive" and "less than the 10x" in accuracy["reason"]
    # The reason quotes the interval's upper end, which decides it, not the medians' ratio.
    high = accuracy["ci_high"]
    assert f"at least {times(1 / high)} lower than mlp" in accuracy["reason"]
    assert f"(the ratio interval's upper end, {high:.3g})" in accuracy["reason"]
    assert times(1 / accuracy["estimate"]) not in accuracy["reason"]


@pytest.mark.parametrize(
    ("effect", "verdict", "says", "not_says"),
    [
        # 100x lower at the medians, but only 5x at the interval's upper end: short of 10x.
        ((0.01, 0.001, 0.2), "inconclusive", "pinn at least 5x lower than mlp", "100x"),
        # The same medians with a narrower interval: decided by its upper end, 20x.
        ((0.01, 0.001, 0.05), "supported", "pinn at least 20x lower than mlp", "100x"),
        # 3x higher at the medians, at least 1.8x at the interval's lower end.
        ((3.0, 1.8, 5.0), "contradicted", "pinn at least 1.8x higher than mlp", "3x"),
    ],
)
def test_a_reason_quotes_the_interval_end_that_decides_it(effect, verdict, says, not_says):
    estimate, low, high = effect
    judged = ratio_verdict(
        Effect("ratio of medians", estimate, low, high, 0.05, 3, 3), "pinn", "mlp", factor=10.0
    )
    assert judged[0] == verdict
    end = "upper end, " + f"{high:g}" if verdict != "contradicted" else f"lower end, {low:g}"
    assert says in judged[1] and end in judged[1] and not_says not in judged[1]


@pytest.mark.parametrize(
    ("ratio", "text"),
    [
        (0.4, "0.4x"),
        (13.94, "13.9x"),
        (1300.0, "1,300x"),
        (12345.0, "12,300x"),  # 3 significant figures, not to the unit
        (18_110_033.0, "1.81e7x"),
        (1.001, "about 1x"),
        (float("nan"), "n/a"),
    ],
)
def test_a_ratio_is_written_to_three_figures_and_nan_as_n_a(ratio, text) -> None:
    assert times(ratio) == text


@pytest.mark.parametrize(
    ("ratio", "text"),
    [
        (1 / 470, "470x lower test MSE than"),
        (2.5, "2.5x higher test MSE than"),
        (1 / 18_110_033, "1.81e7x lower test MSE than"),
        (1.003, "about the same test MSE (within 0.3 %) as"),
        (0.997, "about the same test MSE (within 0.3 %) as"),
        (1.0, "the same test MSE as"),
        (float("nan"), "an undefined ratio (n/a) of test MSE to"),
    ],
)
def test_a_ratio_in_words_never_reads_1x_higher_or_nan(ratio, text) -> None:
    assert fold(ratio, "test MSE") == text


def test_a_comparison_of_near_equal_medians_says_so() -> None:
    mlp = [1.0, 1.1, 0.9]
    costs = [1.0, 1.1, 0.9]

    def phrase(pinn: list[float]) -> str:
        evidence = _hand_made({("mlp", "base"): (mlp, costs), ("pinn", "base"): (pinn, costs)})
        [result] = Lower("test_mse", ("pinn",), ("mlp",)).evaluate(evidence)
        return result.phrase

    near = phrase([1.001, 1.101, 0.901])
    assert "has about the same test MSE (within 0.1 %) as mlp" in near
    assert "1x higher" not in near
    assert "has 2x higher test MSE than mlp" in phrase([2.0, 2.2, 1.8])


def test_what_is_missing_is_said(tables, claims) -> None:
    only = {name: tables[name] for name in ("oscillator", "shear_flow")}
    # No width sweep: claim 7 lacks the data-driven model's sweep.
    shear = dict(only["shear_flow"])
    shear["runs"] = shear["runs"][shear["runs"]["point"] == "base"]
    only["shear_flow"] = shear
    # The oscillator's summary before test_extrap_mse existed.
    oscillator = dict(only["oscillator"])
    oscillator["runs"] = oscillator["runs"].drop(columns="test_extrap_mse")
    only["oscillator"] = oscillator
    table = _check(only)
    # Burgers not run (claims 2 and 6), nor the undamped oscillator (claim 1): no row that
    # could read as evidence, and the report names them.
    assert set(table["experiment"]) == {"oscillator", "shear_flow"}
    assert not_checked(table) == (
        "Not checked, their experiment not being run in this configuration (no rows in "
        "claims.csv, no verdict): claim 1 (oscillator_undamped), claim 2 (burgers), "
        "claim 6 (burgers)."
    )
    assert not_checked(claims) == ""  # every experiment run
    seven = table[(table["claim_id"] == "7") & table["decides"].astype(bool)].iloc[0]
    assert seven["verdict"] == "inconclusive" and "no sweep of unet's width" in seven["reason"]
    one = table[table["part"] == "accuracy: far better extrapolation"].iloc[0]
    assert one["reason"] == (
        "missing: column test_extrap_mse missing from the oscillator runs table"
    )
    assert one["claim_verdict"] == "inconclusive"


def test_one_seed_gives_no_interval_and_says_so() -> None:
    table = _check(_tables(seeds=1, include=("oscillator",)))
    one = table[table["claim_id"] == "1"]
    assert (one["claim_verdict"] == "inconclusive").all()
    assert "one seed: no interval" in one["reason"].iloc[0]
    assert "nan" not in " ".join(table["sentence"]) + " ".join(table["numbers"].fillna(""))
    assert "one seed: no interval" in one["numbers"].iloc[0]
    assert seed_limits(table).startswith("One seed")


def test_what_three_seeds_can_show_is_said(claims) -> None:
    text = seed_limits(claims)
    assert "With 3 vs 3 seeds the smallest exact one-sided p-value is 1/20 = 0.05" in text
    assert "no comparison of a claim with 2 or more can reach 0.05" in text
    decided = claims[claims["decides"].astype(bool) & claims["p_holm"].notna()]
    family = decided.groupby(["claim_id", "experiment"])["p_value"].transform("size")
    assert not decided.loc[family >= 2, "significant"].any()  # as the text says
    assert (decided["p_holm"] >= decided["p_value"]).all()
