"""The report's HTML pages are functions of the CSV tables: every number from a table."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from workflow_scripts import report_pages as pages
from workflow_scripts.analysis.statistics import summarize_over_seeds


def _runs(test_mse=(0.1, 0.2, 0.3)) -> pd.DataFrame:
    rows = []
    for model, bias, scale in (("mlp", "none", 1.0), ("pinn", "weak", 0.01)):
        for seed, error in enumerate(test_mse):
            rows.append(
                {
                    "experiment": "oscillator",
                    "model": model,
                    "point": "base",
                    "physics_bias": bias,
                    "seed": seed,
                    "test_mse": error * scale,
                    "train_energy_kwh": 1e-6 * (seed + 1),
                }
            )
    return pd.DataFrame(rows)


def _summary(estimate: bool = True) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "model": ["mlp", "pinn"],
            "energy_method": ["codecarbon 3.3.2 (CPU: load-based estimate)"] * 2,
            "energy_is_estimate": [estimate, estimate],
            "train_energy_figure": ["process-attributed estimate"] * 2,
            "inference_energy_figure": ["process-attributed estimate"] * 2,
            "data_energy_figure": ["process-attributed estimate"] * 2,
            "shared_machine": [True, False],
            "device": ["cpu: x86_64"] * 2,
            "torch_version": ["2.13.0+cpu"] * 2,
        }
    )


def _claims() -> pd.DataFrame:
    """A claims table as claims.check_claims writes it: a claim with an accuracy part, a cost
    part and a secondary part, and a claim left inconclusive by a missing column (the other
    declared claims' experiments not run: no rows)."""
    nan = float("nan")
    one = {
        "claim_id": 1,
        "experiment": "oscillator",
        "claim": "The PINN extrapolates far better",
        "claim_verdict": "supported",
        "sentence": "Supported: pinn@steps250 reaches 470x lower extrapolation MSE than mlp.",
        "pair": "pinn vs mlp",
        "statistic": "ratio of medians",
        "n_a": 3,
        "n_b": 3,
        "source": "paper.md",
    }
    rows = [
        {**one, "part": "accuracy", "decides": True, "part_verdict": "supported",
         "comparison": "extrapolation MSE at each variant's best", "verdict": "supported",
         "estimate": 0.00213, "ci_low": 0.0017, "ci_high": 0.0026, "p_value": 0.05,
         "p_holm": 0.15, "significant": False, "numbers": "pinn 0.0042 [0.0032, 0.0047] (n=3)",
         "reason": "pinn lower in every resample"},
        {**one, "part": "cost", "decides": True, "part_verdict": "supported",
         "comparison": "cost at matched accuracy across sweep points", "verdict": "supported",
         "estimate": 0.4, "ci_low": 0.35, "ci_high": 0.46, "p_value": 0.05, "p_holm": 0.15,
         "significant": False, "numbers": "", "reason": "no mlp configuration dominates"},
        {**one, "part": "equal budget", "decides": False, "part_verdict": "contradicted",
         "comparison": "training CO2 at each variant's base configuration",
         "verdict": "contradicted", "estimate": 2.5, "ci_low": nan, "ci_high": nan,
         "p_value": 1.0, "p_holm": nan, "significant": False, "numbers": "", "reason": ""},
        {"claim_id": 2, "experiment": "burgers", "claim": "C-PINN <best> & cheapest",
         "claim_verdict": "inconclusive", "sentence": "Inconclusive: missing: test_mse.",
         "part": "accuracy", "decides": True, "part_verdict": "inconclusive",
         "verdict": "inconclusive", "reason": "missing: test_mse", "source": "paper.md"},
    ]  # fmt: skip
    return pd.DataFrame(rows)


@pytest.mark.parametrize(
    "value, text",
    [(2305.0, "2305"), (0.000123456, "0.000123"), (float("nan"), "–"), (math.inf, "∞"), (3, "3")],
)
def test_numbers_are_formatted_to_three_digits_integers_in_full(value, text):
    assert pages.format_number(value) == text


def test_statistics_table_states_the_seeds_and_coverage_of_each_interval():
    statistics = summarize_over_seeds(_runs(), ["test_mse", "train_energy_kwh"])
    table = pages.statistics_table(statistics, ["test_mse", "train_energy_kwh", "absent"])
    assert list(table.columns) == [
        "variant",
        "point",
        "physics_bias",
        "n_seeds",
        "interval_coverage",
        "test_mse",
        "train_energy_kwh",
    ]
    mlp = table.set_index("variant").loc["mlp"]
    assert mlp["n_seeds"] == "3"
    assert mlp["interval_coverage"] == "75 %"  # [min, max] at 3 seeds: 1 - 2^(1-3)
    assert mlp["test_mse"] == "0.2 [0.1, 0.3]"


def test_a_changed_input_table_changes_the_page():
    def html(runs):
        statistics = summarize_over_seeds(runs, ["test_mse", "train_energy_kwh"])
        empty = pd.DataFrame(columns=["cheaper_to_train", "other", "status"])
        targets = pd.DataFrame(
            {
                "model": ["mlp"],
                "point": ["base"],
                "tracked_error": ["test_mse"],
                "level": [0.1],
                "n_seeds": [3],
                "n_reached": [0],
                "status": ["not reached"],
                **{
                    f"train_energy_kwh_to_target_{s}": [math.inf]
                    for s in ("median", "ci_low", "ci_high")
                },
            }
        )
        return pages.experiment_page(
            "oscillator", statistics, empty, targets, pd.DataFrame({"alpha": [10.0]}), ["test_mse"]
        )

    before, after = html(_runs()), html(_runs(test_mse=(0.1, 0.25, 0.3)))
    assert "0.2 [0.1, 0.3]" in before and "0.2 [0.1, 0.3]" not in after
    assert "0.25 [0.1, 0.3]" in after
    assert "<td>∞</td>" in before  # a level not reached


def test_claims_are_escaped_and_their_verdicts_marked():
    html = pages.claims_page(_claims(), "Seeds per variant: oscillator: 3.")
    assert '<span class="verdict supported">supported</span>' in html
    assert '<span class="verdict contradicted">contradicted</span>' in html  # secondary part
    assert '<span class="verdict inconclusive">inconclusive</span>' in html
    assert "C-PINN &lt;best&gt; &amp; cheapest" in html and "<best>" not in html
    assert "ratio 0.00213 [0.0017, 0.0026]" in html  # the effect with its interval
    assert "ratio 2.5 (one seed: no interval)" in html and "nan" not in html.lower()
    assert "no (secondary)" in html
    assert "1/20 = 0.05" in html  # what 3 seeds can show


def test_the_start_page_gives_each_claim_its_sentence_parts_and_verdict():
    start = pages.start_page(_claims(), "Seeds.", "Energy.")
    assert start.count('<span class="verdict ') == 2  # one per claim, not per part
    assert "pinn@steps250 reaches 470x lower extrapolation MSE than mlp." in start
    # the deciding parts with their verdicts, not the secondary one
    assert "accuracy: supported; cost: supported" in start
    assert "equal budget" not in start
    # a part's verdict follows the table
    flipped = _claims().replace({"part_verdict": {"supported": "inconclusive"}})
    assert "cost: inconclusive" in pages.start_page(flipped, "Seeds.", "Energy.")


def test_the_claims_not_checked_are_named_not_shown_as_inconclusive():
    # Only claims 1 (oscillator) and 2 (burgers) have rows: the others' experiments did not
    # run, and both pages say so in words, with no verdict.
    start = pages.start_page(_claims(), "Seeds.", "Energy.")
    claims = pages.claims_page(_claims(), "Seeds.")
    for html in (start, claims):
        assert "Not checked, their experiment not being run in this configuration" in html
        assert "claim 1 (oscillator_undamped), claim 3 (shear_flow)" in html
        assert "claim 2 (burgers)" not in html
        assert "not run" not in html.split("Not checked")[0]
    # A row for the undamped oscillator's claim: it is no longer named as not checked.
    undamped = _claims().iloc[:1].assign(experiment="oscillator_undamped")
    more = pages.start_page(pd.concat([_claims(), undamped]), "Seeds.", "Energy.")
    assert "claim 1 (oscillator_undamped)" not in more
    assert "Not checked, their experiment not being run in this configuration" in more


@pytest.mark.parametrize(
    "flags, start",
    [
        ((True, True), "Every energy figure in this report is an estimate, not a reading"),
        ((False, False), "Every energy figure in this report is a reading"),
        ((True, False), "1 of 2 runs have estimated energies"),
    ],
)
def test_the_energy_statement_follows_the_runs_records(flags, start):
    summary = _summary().assign(energy_is_estimate=list(flags))
    statement = pages.energy_statement({"oscillator": summary})
    assert statement.startswith(start)
    assert "CPU: load-based estimate" in statement  # the method, from the table


def test_the_run_page_holds_method_hardware_versions_and_config(tmp_path):
    emissions = pd.DataFrame(
        {
            "cpu_model": ["AMD EPYC", "AMD EPYC"],
            "cpu_count": [2, 2],
            "ram_total_size": [23.54, 23.54],
            "gpu_count": [0, 0],
            "gpu_model": [float("nan")] * 2,
            "os": ["Linux"] * 2,
            "tracking_mode": ["machine"] * 2,
            "python_version": ["3.11.7"] * 2,
            "codecarbon_version": ["3.3.2"] * 2,
        }
    )
    hardware = pages.hardware_table(emissions)
    assert hardware.to_dict("records") == [
        {
            "cpu_model": "AMD EPYC",
            "cpu_count": "2",
            "ram_total_size_gb": "23.5",
            "gpu_count": "0",
            "gpu_model": "–",
            "os": "Linux",
            "tracking_mode": "machine",
            "measured_jobs": "2",
        }
    ]
    versions = {"python": "3.11.7", "torch": "not installed here", "numpy": "2.4.6"}
    software = pages.software_table(versions, {"oscillator": _summary()}, emissions)
    assert software.set_index("package").loc["torch"].tolist() == [
        "2.13.0+cpu",
        "not installed here",
    ]
    html = pages.run_page(
        {"seeds": [0, 1, 2], "carbon": {"pue": 1.58}},
        {"oscillator": _summary()},
        emissions,
        versions,
        pages.this_machine(),
    )
    for text in ("How energy was measured", "estimate", "AMD EPYC", "2.13.0+cpu", "pue: 1.58"):
        assert text in html, text


def test_emissions_files_read_together_equal_them_read_one_by_one(tmp_path):
    tables = [
        pd.DataFrame({"duration": [1.5], "cpu_model": ["AMD EPYC"], "cpu_count": [2]}),
        pd.DataFrame(
            {"duration": [0.25, 3.0], "cpu_model": ["A, quoted", "B"], "cpu_count": [2, 4]}
        ),
        pd.DataFrame(
            {"duration": [2.0], "cpu_model": ["C"], "cpu_count": [2], "gpu_model": ["H200"]}
        ),
        pd.DataFrame({"duration": [], "cpu_model": [], "cpu_count": []}),
    ]
    paths = []
    for number, table in enumerate(tables):
        paths.append(tmp_path / f"job{number}_emissions.csv")
        table.to_csv(paths[-1], index=False)
    # The header-only file adds no row (read alone, it would turn every column to object).
    expected = pd.concat([pd.read_csv(path) for path in paths[:3]], ignore_index=True)
    pd.testing.assert_frame_equal(pages.read_emissions(paths), expected)
    assert pages.read_emissions([]).empty


def test_every_page_is_written(tmp_path):
    statistics = summarize_over_seeds(_runs(), ["test_mse"])
    outputs = {
        name: tmp_path / f"{name}.html" for name in ("start", "claims", "run", "tables_oscillator")
    }
    pages.write_pages(
        config={"seeds": [0, 1, 2]},
        claims=_claims(),
        summaries={"oscillator": _summary()},
        statistics={"oscillator": statistics},
        break_even={"oscillator": pd.DataFrame(columns=["cheaper_to_train", "other", "status"])},
        energy_to_target={
            "oscillator": pd.DataFrame(
                columns=[
                    "model",
                    "point",
                    "tracked_error",
                    "level",
                    "n_seeds",
                    "n_reached",
                    "status",
                    "train_energy_kwh_to_target_median",
                    "train_energy_kwh_to_target_ci_low",
                    "train_energy_kwh_to_target_ci_high",
                ]
            )
        },
        score_parameters={"oscillator": pd.DataFrame({"alpha": [10.0]})},
        emissions=[],
        errors={"oscillator": ["test_mse", "test_rel_l2"]},
        outputs=outputs,
    )
    start = outputs["start"].read_text()
    assert start.startswith('<div class="tcp-start">')  # a fragment, not a document
    assert "Seeds per variant (each interval rests on these): oscillator: 3." in start
    for name in ("claims", "run", "tables_oscillator"):
        assert outputs[name].read_text().startswith("<!DOCTYPE html>")
    assert "The PINN extrapolates far better" in outputs["claims"].read_text()
