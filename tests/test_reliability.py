"""Nothing wrong may look complete: divergence, non-finite metrics, corrupt and hostile files.

Fault-injection style: each test makes one thing go wrong and checks the exception (or exit
code), that its message names the culprit, and that no output of the failed job exists.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from workflow_scripts.config import validate_config, variant_spec
from workflow_scripts.data.pointwise import generate_dataset
from workflow_scripts.energy import CarbonSettings, EnergyMeter
from workflow_scripts.evaluation import EvaluateOutputs, NonFiniteMetrics, evaluate_variant
from workflow_scripts.experiments import dataset_maker
from workflow_scripts.experiments.base import VariantSpec
from workflow_scripts.families.pointwise import PointwiseExperiment
from workflow_scripts.families.runs import load_model, open_experiment
from workflow_scripts.files import IntermediateFileError, read_json, write_json
from workflow_scripts.summary import summarize_runs
from workflow_scripts.training import (
    TrainingDiverged,
    TrainOutputs,
    checkpoint_path,
    checkpoints,
    train_variant,
)
from workflow_scripts.training.divergence import DivergenceCheck

CARBON = CarbonSettings(grid_intensity_g_per_kwh=445.0)


def _data(tmp_path: Path, config: dict) -> Path:
    dataset = tmp_path / "data" / "dataset.nc"
    if not dataset.exists():
        generate_dataset(
            dataset_maker("oscillator"),
            config["experiments"]["oscillator"]["data"],
            dataset_path=dataset,
            cost_path=tmp_path / "data" / "data.json",
            emissions_path=tmp_path / "data" / "data_emissions.csv",
            carbon=CARBON,
        )
    return dataset


def _spec(config: dict, model: str = "mlp", **training_settings) -> VariantSpec:
    config = validate_config(config)
    spec = variant_spec(config, "oscillator", model)
    spec["training"].update(training_settings)
    return VariantSpec.from_dict(spec)


def _outputs(run: Path) -> TrainOutputs:
    return TrainOutputs(
        run / "model.pt", run / "history.csv", run / "train_emissions.csv", run / "train.json"
    )


def _train(tmp_path: Path, config: dict, spec: VariantSpec, run: str = "run", seed: int = 0):
    return train_variant(
        spec,
        seed=seed,
        data_path=_data(tmp_path, config),
        outputs=_outputs(tmp_path / run),
        carbon=CARBON,
        device_name="cpu",
    )


def _nothing_written(run: Path) -> bool:
    return not run.exists() or not any(p.name != "checkpoint.pt" for p in run.iterdir())


# -- divergence -----------------------------------------------------------------------------


def test_a_diverging_adam_phase_fails_naming_variant_seed_step_and_loss(tmp_path, tiny):
    spec = _spec(tiny, lr=1.0e6, checkpoint_every=1)
    with pytest.raises(TrainingDiverged) as failure:
        _train(tmp_path, tiny, spec, seed=3)
    message = str(failure.value)
    assert "oscillator/mlp seed 3" in message
    assert "at step " in message and "adam phase" in message and "loss " in message
    # no model.pt, history.csv, train.json or emissions, and no checkpoint to resume
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").iterdir())


def test_a_diverging_lbfgs_phase_fails_too(tmp_path, tiny, monkeypatch):
    """A loss that turns NaN in the L-BFGS phase (after finite Adam steps) fails the job."""
    calls = {"n": 0}
    loss_terms = PointwiseExperiment.loss_terms

    def turns_nan(self, model, spec):
        calls["n"] += 1
        terms = loss_terms(self, model, spec)
        if calls["n"] > 1 + 20 + 3:  # FLOP count, 20 Adam steps, a few L-BFGS evaluations
            terms = {k: v * float("nan") for k, v in terms.items()}
        return terms

    monkeypatch.setattr(PointwiseExperiment, "loss_terms", turns_nan)
    spec = _spec(tiny, model="pinn", steps=20, log_every=10, lbfgs_steps=20)
    with pytest.raises(
        TrainingDiverged, match=r"oscillator/pinn seed 0 diverged at step \d+ \(lbfgs phase\).*nan"
    ):
        _train(tmp_path, tiny, spec)
    assert _nothing_written(tmp_path / "run")


def test_a_non_finite_parameter_is_named(tiny):
    spec = _spec(tiny)
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1))
    check = DivergenceCheck(spec, 7, model)
    check.parameters(5, "adam", 0.5)  # finite: no error
    with torch.no_grad():
        model[1].bias.fill_(float("inf"))
    with pytest.raises(TrainingDiverged, match=r"seed 7 diverged at step 5.*'1.bias'"):
        check.parameters(5, "adam", 0.5)


def test_evaluation_refuses_non_finite_predictions(tmp_path, tiny):
    spec = _spec(tiny, steps=20, log_every=10)
    _train(tmp_path, tiny, spec, seed=2)
    model = tmp_path / "run" / "model.pt"
    state = torch.load(model, weights_only=True)
    state["state_dict"] = {
        k: torch.full_like(v, float("nan")) for k, v in state["state_dict"].items()
    }
    torch.save(state, model)
    outputs = EvaluateOutputs(*(tmp_path / "eval" / n for n in ("m.json", "p.nc", "e.csv")))
    with pytest.raises(NonFiniteMetrics, match=r"oscillator/mlp seed 2: metric 'test_\w+'"):
        evaluate_variant(
            spec,
            seed=2,
            data_path=_data(tmp_path, tiny),
            checkpoint=model,
            outputs=outputs,
            carbon=CARBON,
            min_inference_seconds=0.01,
            device_name="cpu",
        )
    assert not (tmp_path / "eval").exists() or not any((tmp_path / "eval").iterdir())


# -- checkpoints ----------------------------------------------------------------------------


class _RunsCode:
    """Unpickling this object creates ``marker``: what a crafted checkpoint could do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _kill_after_first_checkpoint(monkeypatch):
    save = checkpoints.save_checkpoint

    def killed(path: Path, state: dict) -> None:
        save(path, state)
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoints, "save_checkpoint", killed)
    return save


def test_a_resumed_oscillator_run_is_bitwise_the_uninterrupted_one(tmp_path, tiny, monkeypatch):
    """numpy's and python's RNG states travel as JSON primitives and come back exactly."""
    spec = _spec(tiny, steps=30, log_every=10, checkpoint_every=10)
    whole = _train(tmp_path, tiny, spec, run="whole")
    save = _kill_after_first_checkpoint(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        _train(tmp_path, tiny, spec, run="parted")
    checkpoint = checkpoint_path(tmp_path / "parted" / "model.pt")
    torch.load(checkpoint, weights_only=True)  # tensors and primitives only
    monkeypatch.setattr(checkpoints, "save_checkpoint", save)
    resumed = _train(tmp_path, tiny, spec, run="parted")
    assert resumed["resumed_from_step"] == 10 and resumed["final_val_mse"] == whole["final_val_mse"]
    # time stays cumulative across the interruption, the validations' apart from the training's
    elapsed = pd.read_csv(tmp_path / "parted" / "history.csv")["elapsed_s"]
    assert elapsed.is_monotonic_increasing and elapsed.iloc[-1] <= resumed["train_wall_s"]
    assert resumed["validation_wall_s"] > 0
    a = torch.load(tmp_path / "parted" / "model.pt", weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "whole" / "model.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_hostile_checkpoint_is_refused_and_training_starts_afresh(tmp_path, tiny, caplog):
    marker = tmp_path / "code_ran"
    checkpoint = checkpoint_path(tmp_path / "run" / "model.pt")
    checkpoint.parent.mkdir(parents=True)
    torch.save({"meta": _RunsCode(marker)}, checkpoint)
    spec = _spec(tiny, steps=20, log_every=10, checkpoint_every=10)
    with caplog.at_level(logging.WARNING, logger="workflow_scripts"):
        summary = _train(tmp_path, tiny, spec)
    assert not marker.exists()  # no code of the file ran
    assert summary["resumed_from_step"] == 0 and summary["train_steps"] == 20
    assert any(
        str(checkpoint) in r.getMessage() for r in caplog.records if r.levelname == "WARNING"
    )


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_an_unreadable_checkpoint_is_discarded_with_a_warning(
    tmp_path, tiny, monkeypatch, caplog, damage
):
    spec = _spec(tiny, steps=20, log_every=10, checkpoint_every=10)
    save = _kill_after_first_checkpoint(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        _train(tmp_path, tiny, spec)
    monkeypatch.setattr(checkpoints, "save_checkpoint", save)
    checkpoint = checkpoint_path(tmp_path / "run" / "model.pt")
    content = checkpoint.read_bytes()
    checkpoint.write_bytes(
        {"truncated": content[: len(content) // 2], "garbage": b"\x00junk" * 99, "empty": b""}[
            damage
        ]
    )
    with caplog.at_level(logging.WARNING, logger="workflow_scripts"):
        summary = _train(tmp_path, tiny, spec)
    assert summary["resumed_from_step"] == 0 and summary["train_steps"] == 20
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any(str(checkpoint) in w and "afresh" in w for w in warnings), warnings
    assert not checkpoint.exists()


# -- intermediate files ---------------------------------------------------------------------


def test_a_corrupt_json_names_the_file_and_the_rule(tmp_path):
    path = tmp_path / "results" / "x" / "m" / "seed0" / "train.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"model": "m", "se')  # truncated
    with pytest.raises(IntermediateFileError, match=rf"{path}.*rule train"):
        read_json(path)
    metrics = path.with_name("metrics.json")
    metrics.write_text("[1, 2]")  # valid JSON, not an object
    with pytest.raises(IntermediateFileError, match=rf"{metrics}.*rule evaluate"):
        read_json(metrics)


def test_the_summary_names_a_corrupt_run_file(tmp_path):
    write_json(tmp_path / "train.json", {"model": "m", "seed": 0})
    (tmp_path / "metrics.json").write_bytes(b"\x00" * 10)
    with pytest.raises(IntermediateFileError, match=r"metrics\.json.*rule evaluate"):
        summarize_runs([tmp_path / "train.json"], [tmp_path / "metrics.json"], [], 10)


def test_a_corrupt_model_or_dataset_names_the_file_and_the_rule(tmp_path, tiny):
    spec = _spec(tiny, steps=20, log_every=10)
    _train(tmp_path, tiny, spec)
    model = tmp_path / "run" / "model.pt"
    model.write_bytes(model.read_bytes()[:100])
    experiment = open_experiment(
        spec, seed=0, data_path=_data(tmp_path, tiny), device_name="cpu", threads=1
    )
    with pytest.raises(IntermediateFileError, match=rf"{model}.*rule train"):
        load_model(experiment, model, spec)
    dataset = _data(tmp_path, tiny)
    dataset.write_bytes(dataset.read_bytes()[:200])
    with pytest.raises(IntermediateFileError, match=rf"{dataset}.*rule generate_dataset"):
        open_experiment(spec, seed=0, data_path=dataset, device_name="cpu", threads=1)


# -- energy attribution ---------------------------------------------------------------------


def _cpu_work(iterations: int = 8_000_000) -> int:  # about 0.5 s of one core
    return sum(i * i for i in range(iterations))


def _measured_work(tmp_path: Path, name: str):
    with EnergyMeter(CarbonSettings(measure_power_secs=0.2), tmp_path / f"{name}.csv", name) as m:
        _cpu_work()
    return m.reading


def test_a_busy_sibling_raises_the_machine_figure_not_the_process_one(tmp_path):
    _measured_work(tmp_path, "warm-up")  # the first run pays for allocation and dispatch set-up
    quiet = _measured_work(tmp_path, "quiet")
    spin = "import time\nend = time.time() + 60\nwhile time.time() < end: pass"
    siblings = [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(2)]
    try:
        time.sleep(0.3)
        busy = _measured_work(tmp_path, "busy")
    finally:
        for sibling in siblings:
            sibling.kill()
            sibling.wait()
    assert quiet.energy_is_estimate and busy.energy_is_estimate
    if quiet.process_energy_kwh is None:
        pytest.skip("codecarbon's power model was not found: no process-attributed figure")
    process_ratio = busy.process_energy_kwh / quiet.process_energy_kwh
    machine_ratio = busy.energy_machine_kwh / quiet.energy_machine_kwh
    # The same work: about the same CPU time whatever else runs (on a shared VM up to ~1.5x:
    # contention costs some CPU time too), so about the same process-attributed energy.
    assert 0.5 < busy.cpu_time_s / quiet.cpu_time_s < 1.6
    assert 0.5 < process_ratio < 1.6, process_ratio
    # Two spinning siblings: others' load above a core, and the machine-wide figure (others'
    # load x a longer wall time) grows far more (measured: 2.6-3.3x vs 1.1-1.4x).
    assert busy.others_cpu_load > 1.0
    assert machine_ratio > 1.5 * process_ratio, (machine_ratio, process_ratio)
    assert busy.energy_kwh == busy.process_energy_kwh  # the analysis uses the robust one


# -- through Snakemake ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def diverged_workflow(tmp_path_factory):
    """A tiny oscillator run whose mlp diverges (lr 1e6), with --keep-going; then the same
    workflow with the mlp switched off, finished."""
    from conftest import tiny_config
    from workflow_helpers import only, snakemake

    workdir = tmp_path_factory.mktemp("diverged")
    config = only(tiny_config(), "oscillator", seeds=[0])
    models = config["experiments"]["oscillator"]["models"]
    models["pinn_hard"]["enabled"] = False
    models["mlp"]["training"] = {"lr": 1.0e6}
    failed = snakemake(workdir, config, "--keep-going", check=False)
    models["mlp"]["enabled"] = False
    snakemake(workdir, config)
    return workdir, config, failed


@pytest.mark.slow
def test_a_diverging_variant_fails_its_job_and_the_others_finish(diverged_workflow):
    workdir, _, failed = diverged_workflow
    assert failed.returncode != 0
    log = (workdir / "logs" / "train" / "oscillator" / "mlp" / "seed0.log").read_text()
    assert "TrainingDiverged" in log and "oscillator/mlp seed 0 diverged at step" in log
    mlp = workdir / "results" / "oscillator" / "mlp" / "seed0"
    assert not mlp.exists() or not any(mlp.iterdir())  # no model, history, metrics
    pinn = workdir / "results" / "oscillator" / "pinn" / "seed0"
    assert (pinn / "metrics.json").stat().st_size > 0  # --keep-going: the other variant ran
    summary = pd.read_csv(workdir / "results" / "oscillator" / "summary.csv")
    assert summary["model"].tolist() == ["pinn"]  # no row from the diverged variant


def _pue(config):
    config["carbon"]["pue"] = 2 * config["carbon"]["pue"]


def _grid(config):
    config["carbon"]["grid_intensity_g_per_kwh"] = 3 * config["carbon"]["grid_intensity_g_per_kwh"]


def _country(config):
    config["carbon"].update(grid_intensity_g_per_kwh=None, country_iso_code="FRA")


@pytest.mark.slow
@pytest.mark.parametrize("change, factor", [(_pue, 2.0), (_grid, 3.0), (_country, None)])
def test_pue_or_grid_intensity_re_runs_only_the_summary_and_figures(
    diverged_workflow, change, factor
):
    from workflow_helpers import after_summary, planned_jobs, snakemake

    workdir, config, _ = diverged_workflow
    changed = json.loads(json.dumps(config))
    change(changed)
    figures = ("pareto", "predictions", "learning_curves")
    assert planned_jobs(snakemake(workdir, changed, "--dry-run")) == after_summary(
        "oscillator", figures
    )
    # The CO2 columns follow; the energies, measured once, do not.
    summary = workdir / "results" / "oscillator" / "summary.csv"
    before = pd.read_csv(summary)
    snakemake(workdir, changed, "results/oscillator/summary.csv")
    after = pd.read_csv(summary)
    snakemake(workdir, config, "results/oscillator/summary.csv")  # back, for the next case
    for column in ("train_co2_g", "inference_co2_g_per_prediction", "lifecycle_co2_g"):
        if factor is None:  # France's grid is cleaner than Denmark's 445 g/kWh of the config
            assert (after[column] < before[column]).all(), column
        else:
            assert after[column].tolist() == pytest.approx((factor * before[column]).tolist())
    for column in ("train_energy_kwh", "lifecycle_energy_kwh", "train_energy_machine_kwh"):
        assert after[column].tolist() == before[column].tolist(), column
