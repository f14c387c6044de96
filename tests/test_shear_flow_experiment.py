"""The shear-flow forecasting experiment: windows, variants, resumable training, the DAG branch."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr
import yaml
from conftest import tiny_config
from torch import nn
from workflow_helpers import assert_experiment_outputs, only, snakemake

from workflow_scripts.architectures import ArchitectureKind, architecture_kinds
from workflow_scripts.config import ConfigError, validate_config, variant_spec
from workflow_scripts.data.well_format import write_stats_yaml
from workflow_scripts.energy import CarbonSettings
from workflow_scripts.evaluation import EvaluateOutputs, evaluate_variant
from workflow_scripts.experiments import experiment_class
from workflow_scripts.experiments.base import VariantSpec
from workflow_scripts.experiments.shear_flow import INPUT_FRAMES
from workflow_scripts.families.forecasting import ShearFlowExperiment
from workflow_scripts.families.runs import load_model
from workflow_scripts.files import read_json
from workflow_scripts.measurement import count_parameters
from workflow_scripts.models.increment import IncrementOutput
from workflow_scripts.physics.fields import FIELD_NAMES
from workflow_scripts.training import TrainOutputs, checkpoint_path, checkpoints, train_variant

CARBON = CarbonSettings(grid_intensity_g_per_kwh=445.0)
MODELS = ("unet", "flow_matching", "unet_physloss", "fno", "fno_divfree")
FIGURES = ("rollout", "rollout_error", "pareto_train", "pareto_inference", "divergence")
NX, NY, TIMES = 8, 16, 9


def _smooth_fields(
    rng: np.random.Generator, trajectories: int, nx: int = NX, ny: int = NY
) -> np.ndarray:
    """(trajectory, time, field, x, y): a few drifting Fourier modes, so windows are learnable."""
    x = np.arange(nx)[:, None] / nx
    y = -1 + 2 * np.arange(ny)[None, :] / ny
    t = 0.1 * np.arange(TIMES)
    out = np.empty((trajectories, TIMES, len(FIELD_NAMES), nx, ny), dtype=np.float32)
    for n in range(trajectories):
        for f in range(len(FIELD_NAMES)):
            phase, amp = rng.uniform(0, 2 * np.pi, 2), rng.uniform(0.5, 1.5, 2)
            for k, time in enumerate(t):
                out[n, k, f] = amp[0] * np.sin(2 * np.pi * (x - 0.3 * time) + phase[0]) + amp[
                    1
                ] * np.cos(np.pi * (y + 0.2 * time) + phase[1])
    return out


def write_stores(directory: Path, seed: int = 0, nx: int = NX, ny: int = NY) -> Path:
    """Tiny train/valid/test stores laid out as the regrid stage writes them, with stats."""
    rng = np.random.default_rng(seed)
    for split, trajectories in (("train", 3), ("valid", 1), ("test", 1)):
        fields = _smooth_fields(rng, trajectories, nx, ny)
        dims = ("trajectory", "time", "x", "y")
        dataset = xr.Dataset(
            {name: (dims, fields[:, :, i]) for i, name in enumerate(FIELD_NAMES)},
            coords={
                "time": 0.1 * np.arange(TIMES),
                "reynolds": ("trajectory", np.full(trajectories, 1.0e4)),
                "schmidt": ("trajectory", np.ones(trajectories)),
            },
        )
        dataset.to_zarr(directory / f"{split}.zarr", mode="w")
        deltas = np.diff(fields, axis=1)
        stats = {
            key: {name: float(fn(values[:, :, i])) for i, name in enumerate(FIELD_NAMES)}
            for key, fn, values in (
                ("mean", np.mean, fields),
                ("std", np.std, fields),
                ("rms", lambda v: np.sqrt(np.mean(v**2)), fields),
                ("mean_delta", np.mean, deltas),
                ("std_delta", np.std, deltas),
                ("rms_delta", lambda v: np.sqrt(np.mean(v**2)), deltas),
            )
        }
        write_stats_yaml(stats, directory / f"{split}.stats.yaml")
    return directory


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_stores(tmp_path_factory.mktemp("shear_stores"))


def tiny_shear_config() -> dict:
    config = validate_config(tiny_config())
    block = config["experiments"]["shear_flow"]
    block["training"].update({"steps": 6, "log_every": 3, "batch_size": 2})
    for variant in block["models"].values():
        if "modes" in variant["architecture"]:
            variant["architecture"]["modes"] = [4, 8]
    return config


def spec_of(model: str, **training: object) -> VariantSpec:
    values = variant_spec(tiny_shear_config(), "shear_flow", model)
    values["training"].update(training)
    return VariantSpec.from_dict(values)


def _outputs(directory: Path) -> TrainOutputs:
    return TrainOutputs(
        directory / "model.pt",
        directory / "history.csv",
        directory / "emissions.csv",
        directory / "train.json",
    )


def train_run(spec: VariantSpec, data: Path, out: Path, device: str = "cpu") -> dict:
    """Train seed 0 of ``spec`` on the tiny stores into ``out``."""
    return train_variant(
        spec,
        seed=0,
        data_path=data / "train.zarr",
        carbon=CARBON,
        device_name=device,
        outputs=_outputs(out),
    )


def evaluate_run(spec: VariantSpec, data: Path, out: Path, device: str = "cpu") -> dict:
    """Evaluate the model ``train_run`` left in ``out``."""
    return evaluate_variant(
        spec,
        seed=0,
        data_path=data / "train.zarr",
        checkpoint=out / "model.pt",
        carbon=CARBON,
        min_inference_seconds=0.01,
        min_inference_repeats=2,
        device_name=device,
        outputs=EvaluateOutputs(out / "metrics.json", out / "predictions.nc", out / "inf.csv"),
    )


def open_experiment(
    data: Path, seed: int = 0, dtype: torch.dtype = torch.float32
) -> ShearFlowExperiment:
    torch.manual_seed(seed)
    return experiment_class("shear_flow")(data / "train.zarr", torch.device("cpu"), dtype)


def test_windows_are_four_frames_then_the_next_and_normalisation_round_trips(data):
    experiment = open_experiment(data)
    train = experiment.splits["train"]
    assert len(train) == 3 * (TIMES - INPUT_FRAMES)
    inputs, target, diffusivity = train.batch(torch.tensor([TIMES - INPUT_FRAMES + 2]))
    series = train.series[1]  # the second trajectory, windows start at 0
    for frame in range(INPUT_FRAMES):
        block = inputs[0, frame * len(FIELD_NAMES) : (frame + 1) * len(FIELD_NAMES)]
        torch.testing.assert_close(block, series[2 + frame])
    torch.testing.assert_close(target[0], series[2 + INPUT_FRAMES])
    assert float(diffusivity[0]) == pytest.approx(1.0e-4)

    with xr.open_zarr(data / "train.zarr") as store:
        raw = torch.as_tensor(store["pressure"].values[1, 3])
    torch.testing.assert_close(experiment.denormalise(series[3:4])[0, 1], raw)
    # z-scored with the train stats: the train split has mean ~0, std ~1 per field
    torch.testing.assert_close(
        train.series.mean(dim=(0, 1, 3, 4)), torch.zeros(4), atol=1e-5, rtol=0
    )


def test_minibatches_are_deterministic_per_seed(data):
    spec = spec_of("unet")
    model = open_experiment(data).build_model(spec)
    first = [open_experiment(data, seed=3).loss_terms(model, spec)["data"] for _ in range(2)]
    second = open_experiment(data, seed=3)
    torch.testing.assert_close(second.loss_terms(model, spec)["data"], first[0])
    assert not torch.equal(open_experiment(data, seed=4).loss_terms(model, spec)["data"], first[0])


def build_pointwise_forecaster(architecture, setting):
    """A new kind for the tests below: a k×k convolution on the increment, its own key k."""
    k = architecture["kernel"]
    conv = nn.Conv2d(
        setting.in_channels, setting.fields, k, padding=k // 2, padding_mode="circular"
    )
    return IncrementOutput(conv, setting.delta_scale)


@pytest.fixture
def pointwise_kind(monkeypatch):
    """A kind declared as a module of workflow_scripts/architectures would declare it."""
    kind = ArchitectureKind(
        name="pointwise_test",
        family="field",
        builder=f"{__name__}:build_pointwise_forecaster",
        keys={"kernel": {"type": "integer", "minimum": 1, "default": 1}},
    )
    monkeypatch.setitem(architecture_kinds(), kind.name, kind)
    return kind


def with_pointwise_variant(architecture: dict) -> dict:
    config = tiny_shear_config()
    config["experiments"]["shear_flow"]["models"]["pointwise"] = {
        "physics_bias": "none",
        "architecture": {"kind": "pointwise_test", **architecture},
        "loss_weights": {"data": 1.0},
    }
    return config


def test_a_new_kind_with_its_own_key_needs_no_schema_edit(data, tmp_path, pointwise_kind):
    config = validate_config(with_pointwise_variant({"kernel": 3}))
    spec = VariantSpec.from_dict(variant_spec(config, "shear_flow", "pointwise"))
    assert spec.architecture == {"kind": "pointwise_test", "kernel": 3}
    train = train_run(spec, data, tmp_path / "pointwise")
    assert train["n_parameters"] == 16 * 4 * 9 + 4
    default = validate_config(with_pointwise_variant({}))  # the kind's default fills in
    assert default["experiments"]["shear_flow"]["models"]["pointwise"]["architecture"] == {
        "kind": "pointwise_test",
        "kernel": 1,
    }


@pytest.mark.parametrize(
    ("architecture", "message"),
    [
        ({"kernal": 3}, r"models\.pointwise\.architecture\.kernal: a pointwise_test .* kernel"),
        ({"modes": [4, 4]}, r"models\.pointwise\.architecture\.modes: .*does not take it"),
        ({"kernel": 0}, r"models\.pointwise\.architecture\.kernel: 0 is less than"),
        ({"kernel": 3.0}, r"models\.pointwise\.architecture\.kernel: 3\.0 is not of type"),
    ],
)
def test_a_key_the_kind_does_not_take_is_refused_naming_it(pointwise_kind, architecture, message):
    with pytest.raises(ConfigError, match=message):
        validate_config(with_pointwise_variant(architecture))


@pytest.mark.parametrize(
    ("kind", "key", "value"),
    [("unet", "modes", [4, 4]), ("unet", "ode_steps", 5), ("fno", "pool", 2), ("fno", "levels", 2)],
)
def test_declared_kinds_refuse_each_others_keys(kind, key, value):
    config = tiny_shear_config()
    config["experiments"]["shear_flow"]["models"]["unet"]["architecture"] = {
        "kind": kind,
        key: value,
    }
    with pytest.raises(ConfigError, match=rf"models\.unet\.architecture\.{key}: a {kind} "):
        validate_config(config)


def test_an_unregistered_kind_is_refused_naming_the_key():
    config = tiny_shear_config()
    config["experiments"]["shear_flow"]["models"]["unet"]["architecture"]["kind"] = "transformer"
    with pytest.raises(
        ConfigError, match=r"models\.unet\.architecture\.kind: 'transformer' is not"
    ):
        validate_config(config)


def test_rollout_length_follows_the_setting_and_is_bounded_by_the_data(data):
    experiment = open_experiment(data)
    model = experiment.build_model(spec_of("unet"))
    experiment.rollout_steps = 2
    metrics = experiment.efficacy_metrics(model)
    assert metrics["rollout_steps"] == 2 and len(metrics["rollout_vrmse"]) == 2
    experiment = open_experiment(data)
    experiment.rollout_steps = TIMES - INPUT_FRAMES + 1
    with pytest.raises(ValueError, match="evaluation.rollout_steps"):
        experiment.efficacy_metrics(model)


@pytest.mark.parametrize("model", MODELS)
def test_every_variant_trains_and_scores_finite(data, tmp_path, model):
    spec = spec_of(model)
    out = tmp_path / model
    train = train_run(spec, data, out)
    assert train["train_steps"] == 6 and math.isfinite(train["final_val_mse"])
    built = open_experiment(data).build_model(spec)
    assert train["n_parameters"] == count_parameters(built)  # complex weights count twice
    metrics = evaluate_run(spec, data, out)
    for key in (
        "vrmse",
        "nrmse",
        "pearson",
        "persistence_vrmse",
        "skill",
        "test_mse",
        "test_rel_l2",
    ):
        assert math.isfinite(metrics[key]), key
    assert len(metrics["rollout_vrmse"]) == TIMES - INPUT_FRAMES
    assert np.isfinite(metrics["rollout_divergence"]).all()
    if model == "fno_divfree":
        assert max(metrics["rollout_divergence"]) < 1e-4
    assert metrics["evaluations_per_forecast"] == (10 if model == "flow_matching" else 1)
    with xr.open_dataset(out / "predictions.nc", engine="h5netcdf") as saved:
        assert saved["prediction"].shape == (TIMES - INPUT_FRAMES, 4, NX, NY)
        assert np.isfinite(saved["prediction"].values).all()
    assert not checkpoint_path(out / "model.pt").exists()


def test_training_learns_beyond_persistence(data, tmp_path):
    # A broken target, loss or normalisation would leave skill at or below 0.
    spec = spec_of("unet", steps=150, log_every=50, batch_size=4)
    train_run(spec, data, tmp_path)
    experiment = open_experiment(data)
    model = load_model(experiment, tmp_path / "model.pt", spec)
    experiment.rollout_steps = 1
    metrics = experiment.efficacy_metrics(model)
    # The increment model starts at persistence (skill 0); 150 steps reach about 0.36.
    assert metrics["skill"] > 0.2, metrics["skill"]
    assert metrics["vrmse"] < metrics["persistence_vrmse"]


def test_a_job_uses_the_threads_the_scheduler_granted(data, tmp_path):
    spec = spec_of("unet", threads=2)
    run = {"seed": 0, "data_path": data / "train.zarr", "carbon": CARBON, "device_name": "cpu"}
    granted = train_variant(spec, outputs=_outputs(tmp_path / "granted"), threads=1, **run)
    assert granted["threads"] == 1  # snakemake --cores 1 scales a rule's threads down
    assert train_variant(spec, outputs=_outputs(tmp_path / "configured"), **run)["threads"] == 2


def test_spectral_models_train_in_float64(data, tmp_path):
    spec = spec_of("fno_divfree", dtype="float64")
    assert math.isfinite(train_run(spec, data, tmp_path)["final_val_mse"])
    model = open_experiment(data, dtype=torch.float64).build_model(spec)
    assert {p.dtype for p in model.parameters()} == {torch.float64, torch.complex128}


def test_interrupted_training_resumes_to_the_uninterrupted_result(data, tmp_path, monkeypatch):
    spec = spec_of("unet_physloss", steps=12, log_every=2, checkpoint_every=4)
    run = {"seed": 5, "data_path": data / "train.zarr", "carbon": CARBON, "device_name": "cpu"}
    whole = train_variant(spec, outputs=_outputs(tmp_path / "whole"), **run)

    save = checkpoints.save_checkpoint
    calls = {"n": 0}

    def killed_after_second_checkpoint(path: Path, state: dict) -> None:
        save(path, state)
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("simulated kill")

    monkeypatch.setattr(checkpoints, "save_checkpoint", killed_after_second_checkpoint)
    parted = _outputs(tmp_path / "parted")
    with pytest.raises(KeyboardInterrupt):
        train_variant(spec, outputs=parted, **run)
    assert checkpoint_path(parted.model).exists() and not parted.summary.exists()
    monkeypatch.setattr(checkpoints, "save_checkpoint", save)
    resumed = train_variant(spec, outputs=parted, **run)

    assert resumed["resumed_from_step"] == 8 and whole["resumed_from_step"] == 0
    assert not checkpoint_path(parted.model).exists()
    columns = ["step", "loss", "loss_data", "loss_divergence", "loss_tracer", "val_mse"]
    pd.testing.assert_frame_equal(
        pd.read_csv(parted.history)[columns],
        pd.read_csv(_outputs(tmp_path / "whole").history)[columns],
    )
    assert resumed["final_val_mse"] == whole["final_val_mse"]
    a = torch.load(parted.model, weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "whole" / "model.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert read_json(parted.summary)["loss_evaluations"] == 12
    # Time and energy stay cumulative across the interruption, in the curve and the totals.
    history = pd.read_csv(parted.history)
    assert history["elapsed_s"].is_monotonic_increasing
    assert history["energy_kwh"].is_monotonic_increasing
    before_kill = history.loc[history["step"] == 8].iloc[0]
    assert resumed["train_wall_s"] > before_kill["elapsed_s"] > 0
    assert resumed["train_energy_kwh"] > before_kill["energy_kwh"] > 0

    # A checkpoint left under other settings is discarded, not resumed.
    monkeypatch.setattr(checkpoints, "save_checkpoint", killed_after_second_checkpoint)
    calls["n"] = 0
    stale = _outputs(tmp_path / "stale")
    with pytest.raises(KeyboardInterrupt):
        train_variant(spec, outputs=stale, **run)
    monkeypatch.setattr(checkpoints, "save_checkpoint", save)
    changed = spec_of("unet_physloss", steps=12, log_every=2, checkpoint_every=4, lr=5e-4)
    assert train_variant(changed, outputs=stale, **run)["resumed_from_step"] == 0


@pytest.mark.slow
def test_shear_flow_branch_through_the_cli(tmp_path):
    config = only(tiny_config(), "shear_flow", seeds=[0])
    block = config["experiments"]["shear_flow"]
    block["data"]["simulate"].update(
        {
            "nx": 16,
            "ny": 32,
            "reynolds": [1.0e4],
            "trajectories": {"train": 2, "valid": 1, "test": 1},
            "n_snapshots": 12,
        }
    )
    block["data"]["regrid"].update({"nx": 8, "ny": 16, "time_chunk": 4})
    block["training"].update({"steps": 20, "log_every": 10, "checkpoint_every": 10})
    config["evaluation"]["rollout_steps"] = 6  # reaches the rollout through the evaluate rule
    for variant in block["models"].values():
        if "modes" in variant["architecture"]:
            variant["architecture"]["modes"] = [4, 8]
    snakemake(tmp_path, copy.deepcopy(config))
    summary = assert_experiment_outputs(tmp_path, "shear_flow", MODELS, FIGURES)
    assert np.isfinite(summary["vrmse"]).all() and (summary["persistence_vrmse"] > 0).all()
    metrics = read_json(tmp_path / "results" / "shear_flow" / "unet" / "seed0" / "metrics.json")
    assert len(metrics["rollout_vrmse"]) == 6 < 12 - INPUT_FRAMES
    assert yaml.safe_load((tmp_path / "config.yaml").read_text())["seeds"] == [0]
