"""The training stage, the same for every experiment and variant.

A fixed budget of optimiser steps (equal across the variants of an experiment, so energy to
reach an accuracy is comparable), an optional L-BFGS phase, an optional early stop at a
target test error, and a learning curve of test error against cumulative energy.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import platform
import random
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm import tqdm

from workflow_scripts.energy import CarbonSettings, EnergyMeter
from workflow_scripts.experiments import experiment_class
from workflow_scripts.experiments.base import VariantSpec
from workflow_scripts.families.base import Experiment
from workflow_scripts.files import atomic_path, write_json
from workflow_scripts.measurement import (
    count_flops,
    count_parameters,
    peak_memory_mb,
    synchronize,
)
from workflow_scripts.runtime import DTYPES, resolve_device, seed_everything, set_threads

log = logging.getLogger(__name__)


NOTHING_SPENT = {
    "duration_s": 0.0,
    "energy_kwh": 0.0,
    "cpu_energy_kwh": 0.0,
    "gpu_energy_kwh": 0.0,
    "ram_energy_kwh": 0.0,
}


@dataclasses.dataclass(frozen=True)
class TrainOutputs:
    model: Path
    history: Path
    emissions: Path
    summary: Path


def weighted_loss(terms: dict[str, torch.Tensor], weights: dict[str, float]) -> torch.Tensor:
    return sum(weights[name] * value for name, value in terms.items())


def make_optimizer(model: nn.Module, training: dict[str, Any]) -> torch.optim.Optimizer:
    """Adam or AdamW, with the multi-tensor (``foreach``) update on every device.

    torch picks it by default on CUDA only; on the CPU it also saves a dispatch per parameter
    and op (~10 % of a small U-Net's step), and one code path serves both devices.
    """
    options = {"lr": training["lr"], "weight_decay": training["weight_decay"], "foreach": True}
    name = training["optimizer"]
    if name == "adam":  # weight decay as an L2 term in the gradient
        return torch.optim.Adam(model.parameters(), **options)
    if name == "adamw":  # decoupled weight decay
        return torch.optim.AdamW(model.parameters(), **options)
    raise ValueError(f"unknown optimizer {name!r}")


def learning_rate_factor(step: int, training: dict[str, Any]) -> float:
    """Linear warm-up then constant or cosine decay, per optimiser step."""
    warmup = training.get("warmup_steps", 0)
    if step < warmup:
        return (step + 1) / warmup
    if training.get("schedule", "constant") == "cosine":
        progress = (step - warmup) / max(1, training["steps"] - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
    return 1.0


def checkpoint_path(model_output: Path) -> Path:
    """Where an interrupted run's state waits: beside the model, never a Snakemake output."""
    return Path(model_output).with_name("checkpoint.pt")


def _rng_states(experiment: Experiment) -> dict[str, Any]:
    states: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    # Experiments that sample minibatches from their own generator expose its state.
    if hasattr(experiment, "sampler_state"):
        states["sampler"] = experiment.sampler_state()
    return states


def _restore_rng_states(experiment: Experiment, states: dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    np.random.set_state(states["numpy"])
    random.setstate(states["python"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])
    if "sampler" in states:
        experiment.load_sampler_state(states["sampler"])


def tensor_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The model's tensors only: neuraloperator adds a ``_metadata`` dict of init arguments
    (functions among them), which ``torch.load(weights_only=True)`` refuses."""
    return {k: v for k, v in model.state_dict().items() if isinstance(v, torch.Tensor)}


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def _load_checkpoint(checkpoint: Path | None, spec: VariantSpec) -> dict[str, Any] | None:
    """The state an interrupted run of *this* variant left, or None.

    A checkpoint written under other settings (the config changed since) is discarded: resuming
    it would silently mix two experiments.
    """
    if checkpoint is None or not checkpoint.exists():
        return None
    # On the CPU: RNG states must be CPU tensors; model and optimiser states move on loading.
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    if state.get("spec") != dataclasses.asdict(spec):
        log.warning("discarding %s: written under other settings than this run's", checkpoint)
        checkpoint.unlink()
        return None
    return state


def _autocast(training: dict[str, Any], device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast of the forward/loss on CUDA when ``training.amp: bf16``; a no-op else."""
    if training.get("amp", "none") == "bf16" and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


class _Recorder:
    """Collects learning-curve rows: step, loss terms, test error, time and energy so far.

    ``earlier`` holds what the segments of the run before a resume spent, so the curve's time
    and energy stay cumulative across an interruption.
    """

    def __init__(self, experiment: Experiment, model: nn.Module, meter: EnergyMeter) -> None:
        self.experiment, self.model, self.meter = experiment, model, meter
        self.rows: list[dict[str, Any]] = []
        self.earlier = dict(NOTHING_SPENT)

    def spent(self) -> dict[str, float]:
        """Wall time and energy of the whole run so far, earlier segments included."""
        now = self.meter.spent_so_far()
        return {key: self.earlier[key] + now[key] for key in NOTHING_SPENT}

    def record(self, step: int, phase: str, loss: float, terms: dict[str, torch.Tensor]) -> float:
        test_mse = self.experiment.test_mse(self.model)
        synchronize(self.experiment.device)
        spent = self.spent()
        self.rows.append(
            {
                "step": step,
                "phase": phase,
                "loss": loss,
                **{f"loss_{name}": value.item() for name, value in terms.items()},
                "test_mse": test_mse,
                "elapsed_s": spent["duration_s"],
                "energy_kwh": spent["energy_kwh"],
            }
        )
        return test_mse


def fit(
    experiment: Experiment,
    model: nn.Module,
    spec: VariantSpec,
    meter: EnergyMeter,
    checkpoint: Path | None = None,
) -> tuple[pd.DataFrame, dict[str, Any], dict[str, float]]:
    """Train ``model`` within the budget of ``spec.training``.

    Returns the history, the counters, and what the run spent before a resume (zeros if none).

    With ``checkpoint`` and ``training.checkpoint_every`` > 0, the Adam phase saves its whole
    state there every that many steps and resumes from it when it exists, so an interrupted
    and re-run job ends where an uninterrupted one does. Counters then include
    ``resumed_from_step``, and the third value is what the run had spent up to that checkpoint
    (steps redone after it count once: their first attempt was lost work).
    """
    training = spec.training
    weights = spec.loss_weights
    target = training.get("target_test_mse")
    every = training.get("checkpoint_every") or 0
    recorder = _Recorder(experiment, model, meter)
    optimizer = make_optimizer(model, training)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: learning_rate_factor(step, training)
    )
    loss_evaluations = 0
    reached_target = False
    step = 0
    resumed_from = 0  # the step this run started from: 0 unless resumed from a checkpoint
    state = _load_checkpoint(checkpoint, spec) if every else None
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        _restore_rng_states(experiment, state["rng"])
        recorder.rows = state["rows"]
        recorder.earlier = state["spent"]
        step = resumed_from = state["step"]
        loss_evaluations = state["loss_evaluations"]
        log.info("resumed from %s at step %d", checkpoint, step)
    with tqdm(
        total=training["steps"], initial=step, desc=f"{spec.model} adam", mininterval=2.0
    ) as bar:
        while step < training["steps"]:
            with _autocast(training, experiment.device):
                terms = experiment.loss_terms(model, spec)
                loss = weighted_loss(terms, weights)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            step += 1
            loss_evaluations += 1
            bar.update()
            if step % training["log_every"] == 0 or step == training["steps"]:
                test_mse = recorder.record(step, "adam", loss.item(), terms)
                bar.set_postfix(loss=f"{loss.item():.3g}", test_mse=f"{test_mse:.3g}")
                if target is not None and test_mse <= target:
                    reached_target = True
                    break
            if checkpoint is not None and every and step % every == 0 and step < training["steps"]:
                save_checkpoint(
                    checkpoint,
                    {
                        "model": tensor_state(model),
                        "optimizer": optimizer.state_dict(),
                        "scheduler": scheduler.state_dict(),
                        "rng": _rng_states(experiment),
                        "rows": recorder.rows,
                        "step": step,
                        "loss_evaluations": loss_evaluations,
                        "spent": recorder.spent(),
                        "spec": dataclasses.asdict(spec),
                    },
                )

    lbfgs_steps = 0 if reached_target else training.get("lbfgs_steps", 0)
    if lbfgs_steps:
        lbfgs = torch.optim.LBFGS(
            model.parameters(),
            lr=1.0,
            max_iter=min(training["log_every"], lbfgs_steps),
            history_size=50,
            tolerance_grad=0.0,
            tolerance_change=0.0,
            line_search_fn="strong_wolfe",
        )
        last_terms: dict[str, torch.Tensor] = {}

        def closure() -> torch.Tensor:
            nonlocal loss_evaluations, last_terms
            lbfgs.zero_grad(set_to_none=True)
            last_terms = experiment.loss_terms(model, spec)
            value = weighted_loss(last_terms, weights)
            value.backward()
            loss_evaluations += 1
            return value

        done = 0
        with tqdm(total=lbfgs_steps, desc=f"{spec.model} lbfgs", mininterval=2.0) as bar:
            while done < lbfgs_steps:
                lbfgs.param_groups[0]["max_iter"] = min(training["log_every"], lbfgs_steps - done)
                before = lbfgs.state[lbfgs._params[0]].get("n_iter", 0)
                loss = lbfgs.step(closure)
                iterations = lbfgs.state[lbfgs._params[0]].get("n_iter", 0) - before
                done += max(1, iterations)
                bar.update(max(1, iterations))
                test_mse = recorder.record(step + done, "lbfgs", loss.item(), last_terms)
                if not torch.isfinite(loss) or (target is not None and test_mse <= target):
                    reached_target = target is not None and test_mse <= target
                    break
        step += done

    history = pd.DataFrame(recorder.rows)
    counters = {
        "train_steps": step,
        "loss_evaluations": loss_evaluations,
        "reached_target": reached_target,
        "resumed_from_step": resumed_from,
    }
    return history, counters, recorder.earlier


def open_experiment(
    spec: VariantSpec, *, seed: int, data_path: Path, device_name: str, threads: int | None = None
) -> Experiment:
    """Seed, set threads and load the experiment's data on the configured device.

    ``threads``: what the scheduler granted (Snakemake scales a rule's threads down to
    ``--cores``); the variant's ``training.threads`` when not given.
    """
    device = resolve_device(device_name)
    seed_everything(seed)
    set_threads(threads or spec.training["threads"])
    return experiment_class(spec.experiment)(data_path, device, DTYPES[spec.training["dtype"]])


def train_variant(
    spec: VariantSpec,
    *,
    seed: int,
    data_path: Path,
    outputs: TrainOutputs,
    carbon: CarbonSettings,
    device_name: str = "auto",
    threads: int | None = None,
) -> dict[str, Any]:
    """Train one (variant, seed), writing checkpoint, history, emissions and train.json."""
    experiment = open_experiment(
        spec, seed=seed, data_path=data_path, device_name=device_name, threads=threads
    )
    device = experiment.device
    model = experiment.build_model(spec)
    n_parameters = count_parameters(model)  # real numbers: a complex weight counts twice
    log.info(
        "%s/%s seed %d: %d parameters on %s",
        spec.experiment,
        spec.model,
        seed,
        n_parameters,
        device,
    )

    flops_per_step = count_flops(
        lambda: weighted_loss(experiment.loss_terms(model, spec), spec.loss_weights).backward()
    )
    model.zero_grad(set_to_none=True)

    checkpoint = checkpoint_path(outputs.model)
    with EnergyMeter(carbon, outputs.emissions, stage="train") as meter:
        history, counters, earlier = fit(experiment, model, spec, meter, checkpoint)
        synchronize(device)
    assert meter.reading is not None
    reading = meter.reading.including(earlier)  # a resumed run's totals cover all its segments

    with atomic_path(outputs.model) as tmp:
        torch.save({"state_dict": tensor_state(model), "spec": dataclasses.asdict(spec)}, tmp)
    with atomic_path(outputs.history) as tmp:
        history.to_csv(tmp, index=False)

    memory_mb, memory_kind = peak_memory_mb(device)
    reached = (
        history[history["test_mse"] <= spec.training["target_test_mse"]]
        if (spec.training.get("target_test_mse") is not None)
        else history.iloc[0:0]
    )
    summary = {
        "experiment": spec.experiment,
        "model": spec.model,
        "physics_bias": spec.physics_bias,
        "seed": seed,
        "n_parameters": n_parameters,
        "flops_per_train_step": flops_per_step,
        "train_flops_total": flops_per_step * counters["loss_evaluations"],
        **counters,
        # The learning curve's last point: the test set, except for the shear flow, whose curve
        # tracks valid windows (its test error is the evaluate stage's).
        "final_tracked_mse": float(history["test_mse"].iloc[-1]),
        "train_wall_s": reading.duration_s,
        "train_energy_kwh": reading.energy_kwh,
        "train_cpu_energy_kwh": reading.cpu_energy_kwh,
        "train_gpu_energy_kwh": reading.gpu_energy_kwh,
        "train_ram_energy_kwh": reading.ram_energy_kwh,
        "train_co2_g": reading.co2_g,
        "energy_to_target_kwh": float(reached["energy_kwh"].iloc[0]) if len(reached) else None,
        "grid_intensity_g_per_kwh": reading.grid_intensity_g_per_kwh,
        "pue": reading.pue,
        "energy_method": reading.energy_method,
        "energy_is_estimate": reading.energy_is_estimate,
        "peak_memory_mb": memory_mb,
        "peak_memory_kind": memory_kind,
        "device": describe_device(device),
        "threads": torch.get_num_threads(),
        "torch_version": torch.__version__,
        "spec": dataclasses.asdict(spec),
    }
    write_json(outputs.summary, summary)
    checkpoint.unlink(missing_ok=True)  # complete: a re-run must start afresh
    return summary


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    return f"cpu: {platform.processor() or platform.machine()}"


def load_model(experiment: Experiment, checkpoint: Path, spec: VariantSpec) -> nn.Module:
    model = experiment.build_model(spec)
    state = torch.load(checkpoint, map_location=experiment.device, weights_only=True)
    model.load_state_dict(state["state_dict"])
    model.eval()
    return model
