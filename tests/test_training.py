"""Training and evaluation behave as the study needs: reproducible, fair budgets, real gaps."""

from __future__ import annotations

import copy
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr

from workflow_scripts.config import validate_config, variant_spec
from workflow_scripts.data.pointwise import generate_dataset, write_dataset
from workflow_scripts.energy import CarbonSettings
from workflow_scripts.evaluation import EvaluateOutputs, evaluate_variant
from workflow_scripts.experiments import dataset_maker
from workflow_scripts.experiments.base import VariantSpec
from workflow_scripts.families.pointwise import PointwiseExperiment
from workflow_scripts.files import read_json
from workflow_scripts.models.fno import FNOForecaster
from workflow_scripts.training import TrainOutputs, make_optimizer, train_variant

CARBON = CarbonSettings(grid_intensity_g_per_kwh=445.0)


def make_data(tmp_path: Path, config: dict, experiment: str = "oscillator") -> Path:
    dataset = tmp_path / experiment / "dataset.nc"
    if not dataset.exists():
        generate_dataset(
            dataset_maker(experiment),
            config["experiments"][experiment]["data"],
            dataset_path=dataset,
            cost_path=tmp_path / experiment / "data.json",
            emissions_path=tmp_path / experiment / "data_emissions.csv",
            carbon=CARBON,
        )
    return dataset


def train_and_evaluate(
    tmp_path: Path,
    config: dict,
    model: str,
    seed: int,
    run: str = "",
    experiment: str = "oscillator",
) -> tuple[dict, dict, Path]:
    data = make_data(tmp_path, config, experiment)
    spec = VariantSpec.from_dict(variant_spec(config, experiment, model))
    out = tmp_path / experiment / model / f"seed{seed}{run}"
    train = train_variant(
        spec,
        seed=seed,
        data_path=data,
        carbon=CARBON,
        device_name="cpu",
        outputs=TrainOutputs(
            out / "model.pt", out / "history.csv", out / "train_emissions.csv", out / "train.json"
        ),
    )
    metrics = evaluate_variant(
        spec,
        seed=seed,
        data_path=data,
        checkpoint=out / "model.pt",
        carbon=CARBON,
        outputs=EvaluateOutputs(
            out / "metrics.json", out / "predictions.nc", out / "inference_emissions.csv"
        ),
        min_inference_seconds=0.05,
        device_name="cpu",
    )
    return train, metrics, out


def test_same_seed_gives_the_same_metrics_twice(tmp_path, tiny):
    config = validate_config(tiny)
    first = train_and_evaluate(tmp_path, config, "pinn", 3, run="a")
    second = train_and_evaluate(tmp_path, config, "pinn", 3, run="b")
    for key in ("test_mse", "test_rel_l2", "test_max_abs_error"):
        assert first[1][key] == second[1][key]
    assert first[0]["flops_per_train_step"] == second[0]["flops_per_train_step"]
    history_a = pd.read_csv(first[2] / "history.csv")
    history_b = pd.read_csv(second[2] / "history.csv")
    pd.testing.assert_series_equal(history_a["loss"], history_b["loss"])


def test_pinn_extrapolates_far_better_than_mlp_at_the_same_budget(tmp_path, default_config):
    default_config["experiments"]["oscillator"]["training"]["steps"] = 800
    config = validate_config(default_config)
    mlp = train_and_evaluate(tmp_path, config, "mlp", 0)
    pinn = train_and_evaluate(tmp_path, config, "pinn", 0)
    assert mlp[0]["train_steps"] == pinn[0]["train_steps"] == 800
    # the study's claim: a physics residual makes extrapolation orders of magnitude better
    assert pinn[1]["test_extrap_mse"] < 1e-2 * mlp[1]["test_extrap_mse"]
    assert pinn[1]["test_extrap_mse"] < 1e-3


def test_outputs_are_complete_and_finite(tmp_path, tiny):
    config = validate_config(tiny)
    train, metrics, out = train_and_evaluate(tmp_path, config, "pinn_hard", 0)
    for key in (
        "n_parameters",
        "flops_per_train_step",
        "train_flops_total",
        "train_wall_s",
        "train_energy_kwh",
        "train_energy_machine_kwh",
        "train_cpu_time_s",
        "peak_memory_mb",
    ):
        assert train[key] > 0, key
    for key in (
        "inference_wall_s_per_prediction",
        "inference_energy_kwh_per_prediction",
        "inference_energy_machine_kwh_per_prediction",
        "inference_flops_per_prediction",
    ):
        assert metrics[key] > 0, key
    assert metrics["inference_repeats"] >= 3
    history = pd.read_csv(out / "history.csv")
    assert list(history.columns[:3]) == ["step", "phase", "loss"]
    assert {"loss_data", "loss_physics", "val_mse", "elapsed_s", "energy_kwh"} <= set(history)
    assert {"energy_machine_kwh", "cpu_time_s"} <= set(history)
    assert history["energy_kwh"].is_monotonic_increasing
    # CO2 is the summary's (energy x PUE x grid intensity): no job bakes it in
    assert not any("co2" in key or key == "pue" for key in {**train, **metrics})
    assert read_json(out / "train.json")["spec"]["hard_constraints"] is True
    assert pd.read_csv(out / "train_emissions.csv")["energy_consumed"].iloc[0] > 0


def test_early_stop_at_target_error(tmp_path, default_config):
    training = default_config["experiments"]["oscillator"]["training"]
    training.update({"steps": 3000, "log_every": 50, "target_val_mse": 1e-2})
    config = validate_config(default_config)
    train, _, _ = train_and_evaluate(tmp_path, config, "pinn", 0)
    assert train["reached_target"] is True
    assert train["train_steps"] < 3000
    assert train["final_val_mse"] <= 1e-2
    assert 0 < train["energy_to_target_kwh"] <= train["train_energy_kwh"]


def _train(spec: VariantSpec, data: Path, out: Path) -> dict:
    return train_variant(
        spec,
        seed=0,
        data_path=data,
        carbon=CARBON,
        device_name="cpu",
        outputs=TrainOutputs(
            out / "model.pt", out / "history.csv", out / "train_emissions.csv", out / "train.json"
        ),
    )


@pytest.mark.parametrize("experiment", ["oscillator", "burgers"])
def test_training_never_reads_the_test_set(tmp_path, tiny, experiment):
    """With every test input and value NaN, training runs, early-stops at the same step and
    ends with the same history and weights: only the validation set steers it."""
    config = validate_config(tiny)
    data = make_data(tmp_path, config, experiment)
    blind = tmp_path / "blind.nc"
    with xr.open_dataset(data, engine="h5netcdf") as dataset:
        nan_test = dataset.load().assign(
            test_inputs=lambda d: d["test_inputs"] * np.nan,
            test_values=lambda d: d["test_values"] * np.nan,
        )
    write_dataset(nan_test, blind)
    spec = variant_spec(config, experiment, "pinn")
    _train(VariantSpec.from_dict(spec), data, tmp_path / "first")
    # a target the run reaches before its budget ends
    history = pd.read_csv(tmp_path / "first" / "history.csv")
    target = spec["training"]["target_val_mse"] = float(history["val_mse"].iloc[1])
    stop = history.loc[history["val_mse"] <= target, "step"].iloc[0]
    stopping = VariantSpec.from_dict(spec)
    runs = {name: tmp_path / name for name in ("clean", "blind")}
    clean = _train(stopping, data, runs["clean"])
    blinded = _train(stopping, blind, runs["blind"])
    assert clean["reached_target"] and blinded["reached_target"]
    assert clean["train_steps"] == blinded["train_steps"] == stop
    measured = ["elapsed_s", "energy_kwh", "energy_machine_kwh", "cpu_time_s"]
    histories = [pd.read_csv(run / "history.csv").drop(columns=measured) for run in runs.values()]
    pd.testing.assert_frame_equal(*histories)
    weights = [
        torch.load(run / "model.pt", weights_only=True)["state_dict"] for run in runs.values()
    ]
    assert all(torch.equal(weights[0][key], weights[1][key]) for key in weights[0])


def test_training_totals_leave_the_validation_evaluations_out(tmp_path, tiny, monkeypatch):
    """Each validation made 0.3 s slower (busy, so it spends CPU time and energy): the time
    goes to validation_wall_s, and the training's wall time, CPU time and energy barely move."""
    config = validate_config(tiny)
    data = make_data(tmp_path, config)
    spec = VariantSpec.from_dict(variant_spec(config, "oscillator", "mlp"))
    quick = _train(spec, data, tmp_path / "quick")
    delay = 0.3
    val_mse = PointwiseExperiment.val_mse

    def slow_val_mse(self, model):
        start = time.perf_counter()
        while time.perf_counter() - start < delay:
            pass
        return val_mse(self, model)

    monkeypatch.setattr(PointwiseExperiment, "val_mse", slow_val_mse)
    slow = _train(spec, data, tmp_path / "slow")
    history = pd.read_csv(tmp_path / "slow" / "history.csv")
    added = delay * len(history)  # one validation per learning-curve point
    assert slow["validation_wall_s"] >= added > quick["validation_wall_s"]
    assert slow["train_wall_s"] < quick["train_wall_s"] + added / 2
    assert slow["train_cpu_time_s"] < quick["train_cpu_time_s"] + added / 2
    assert slow["validation_energy_kwh"] > 0
    assert slow["train_energy_kwh"] < quick["train_energy_kwh"] + slow["validation_energy_kwh"] / 2
    assert history["elapsed_s"].iloc[-1] <= slow["train_wall_s"]


def test_lbfgs_phase_runs_after_adam_and_counts_its_evaluations(tmp_path, tiny):
    tiny["experiments"]["oscillator"]["training"].update(
        {"steps": 40, "lbfgs_steps": 30, "log_every": 10}
    )
    config = validate_config(tiny)
    train, _, out = train_and_evaluate(tmp_path, config, "pinn", 0)
    history = pd.read_csv(out / "history.csv")
    assert set(history["phase"]) == {"adam", "lbfgs"}
    assert train["train_steps"] >= 40 + 30
    assert train["loss_evaluations"] > train["train_steps"] - 1  # line search re-evaluates
    assert train["train_flops_total"] == train["flops_per_train_step"] * train["loss_evaluations"]


def test_cuda_request_without_a_gpu_fails_naming_the_key(tmp_path, tiny):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    config = validate_config(tiny)
    spec = VariantSpec.from_dict(variant_spec(config, "oscillator", "mlp"))
    with pytest.raises(ValueError, match="'device'"):
        train_variant(
            spec,
            seed=0,
            data_path=make_data(tmp_path, config),
            carbon=CARBON,
            device_name="cuda",
            outputs=TrainOutputs(*(tmp_path / n for n in "abcd")),
        )


@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_optimizer_update_equals_the_single_tensor_one_with_complex_weights(name):
    """make_optimizer's multi-tensor update (every device) is torch's plain Adam(W) update, with
    the configured weight decay (Adam's too), also for the FNO's complex spectral weights."""
    torch.manual_seed(0)
    model = FNOForecaster(16, 4, modes=(4, 8), width=8, layers=2)
    reference = copy.deepcopy(model)
    settings = {"optimizer": name, "lr": 1e-2, "weight_decay": 1e-2}
    optimizer = make_optimizer(model, settings)
    plain_class = torch.optim.Adam if name == "adam" else torch.optim.AdamW
    plain = plain_class(reference.parameters(), lr=1e-2, weight_decay=1e-2, foreach=False)
    inputs = torch.randn(2, 16, 8, 16)
    for _ in range(3):
        for network, step in ((model, optimizer), (reference, plain)):
            step.zero_grad()
            network(inputs).square().mean().backward()
            step.step()
    assert any(p.is_complex() for p in model.parameters())
    for ours, theirs in zip(model.parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(ours, theirs)
