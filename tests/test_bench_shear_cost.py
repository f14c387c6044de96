"""bench/bench_shear_cost.py on a tiny grid with config/paper.yaml's variants: its parameters
and FLOPs are the project's builders' and counter's, its FLOPs scale to the study's batch
exactly, and its claim verdicts follow the numbers (no timing is asserted)."""

from __future__ import annotations

import dataclasses
import importlib
import subprocess
import sys

import pytest
import torch
from workflow_helpers import REPO

from workflow_scripts.experiments.shear_flow import INPUT_FRAMES
from workflow_scripts.families.forecasting import FIELDS
from workflow_scripts.families.runs import open_experiment
from workflow_scripts.measurement import count_flops, count_parameters
from workflow_scripts.models.registry import ForecastSetting, build_forecaster
from workflow_scripts.training import weighted_loss

BENCH = REPO / "bench" / "bench_shear_cost.py"
PAPER = REPO / "config" / "paper.yaml"
# The smallest grid every paper variant fits: flow matching pools by 16 and halves twice.
TINY_GRID = (64, 64)


@pytest.fixture(scope="module")
def bench():
    # On sys.path, so that the process measure_in_own_process spawns imports it by name too.
    sys.path.insert(0, str(BENCH.parent))
    yield importlib.import_module(BENCH.stem)
    sys.path.remove(str(BENCH.parent))


@pytest.fixture(scope="module")
def variants(bench):
    specs, grid = bench.study_variants(PAPER, TINY_GRID)
    assert grid == TINY_GRID
    return specs


@pytest.fixture(scope="module")
def data(bench, tmp_path_factory):
    return bench.write_synthetic_stores(tmp_path_factory.mktemp("stores"), *TINY_GRID)


def test_the_grid_is_checked_as_the_config_would_be(bench):
    with pytest.raises(Exception, match="flow_matching"):
        bench.study_variants(PAPER, (32, 64))  # flow matching's pooled grid would be 2 x 4


@pytest.mark.parametrize("model", ["unet", "unet_physloss", "flow_matching", "fno", "fno_divfree"])
def test_parameters_and_flops_are_the_projects(bench, variants, data, model):
    spec = variants[model]
    study_batch = spec.training["batch_size"]
    assert study_batch == 16  # config/paper.yaml's
    cost = bench.measure_variant(spec, data, batch=1, steps=1, threads=2)

    setting = ForecastSetting(
        input_frames=INPUT_FRAMES,
        fields=FIELDS,
        delta_scale=torch.ones(FIELDS),
        mean=torch.zeros(FIELDS),
        std=torch.ones(FIELDS),
    )
    built = build_forecaster(spec.architecture, setting).eval()
    assert cost.parameters == count_parameters(built)
    one_window = torch.randn(1, INPUT_FRAMES * FIELDS, *TINY_GRID)
    with torch.no_grad():
        assert cost.flops_per_forecast == count_flops(lambda: built(one_window))
    assert cost.evaluations_per_forecast == getattr(built, "evaluations_per_forecast", 1)

    # training.py's count at batch 2, scaled to 16, equals the bench's from batch 1: linear
    # (to the rounding of each FFT's count to a whole FLOP).
    at_two = dataclasses.replace(spec, training={**spec.training, "batch_size": 2})
    experiment = open_experiment(at_two, seed=0, data_path=data, device_name="cpu", threads=2)
    model_at_two = experiment.build_model(at_two)
    flops_at_two = count_flops(
        lambda: weighted_loss(
            experiment.loss_terms(model_at_two, at_two), at_two.loss_weights
        ).backward()
    )
    assert cost.flops_per_train_step == pytest.approx(flops_at_two * study_batch / 2, rel=1e-9)
    assert cost.train_flops_total == cost.flops_per_train_step * spec.training["steps"]
    assert cost.cpu_s_per_step > 0 and cost.step_peak_memory_mb >= 0


def _cost(bench, model: str, prior: str, train: int, forecast: int):
    return bench.VariantCost(
        model=model,
        physics_bias=prior,
        parameters=1,
        study_batch=16,
        study_steps=10,
        flops_per_train_step=train,
        flops_per_forecast=forecast,
        evaluations_per_forecast=1,
        timed_batch=1,
        cpu_s_per_step=1.0,
        wall_s_per_step=1.0,
        wall_s_per_forecast=1.0,
        step_peak_memory_mb=1.0,
    )


def test_claim_verdicts_follow_the_flops(bench):
    """The study's picture holds on made-up FLOPs that follow it, and fails where they don't."""
    study = [
        _cost(bench, "unet", "none", 30, 2),
        _cost(bench, "unet_physloss", "weak", 25, 3),
        _cost(bench, "flow_matching", "weak", 20, 9),
        _cost(bench, "fno", "strong", 10, 5),
        _cost(bench, "fno_divfree", "strong", 11, 6),
    ]
    assert [v.holds for v in bench.cost_claims(study)] == [True, True, True, True, True]
    cheap_flow_matching = [
        _cost(bench, "flow_matching", "weak", 5, 1) if c.model == "flow_matching" else c
        for c in study
    ]
    verdicts = {(v.claim, v.cost_part): v for v in bench.cost_claims(cheap_flow_matching)}
    holds = {key: v.holds for key, v in verdicts.items()}
    assert list(holds.values()) == [False, False, False, False, True]
    lowest = verdicts["4", "the FNOs have the lowest training cost"]
    assert "lower than fno: flow_matching" in lowest.numbers
    assert "ratio to unet" in bench.ratio_line(study)


def test_a_variant_measured_in_its_own_process_prints_as_a_row(bench, variants, data):
    cost = bench.measure_in_own_process(
        variants["flow_matching"], data, batch=1, steps=1, threads=1
    )
    assert cost == dataclasses.replace(cost, model="flow_matching", evaluations_per_forecast=10)
    table = bench.cost_table([cost])
    assert "| flow_matching | weak | 8.43 M |" in table
    assert "GFLOP / train step (batch 16)" in table and "(40000 steps)" in table


def test_help():
    result = subprocess.run(
        [sys.executable, str(BENCH), "--help"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0 and "--grid NX NY" in result.stdout
