"""The training stage, the same for every experiment and variant.

A fixed budget of optimiser steps (equal across the variants of an experiment, so energy to
reach an accuracy is comparable), an optional L-BFGS phase, an optional early stop at a
target test error, and a learning curve of test error against cumulative energy.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import platform
import time
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn
from tqdm import tqdm

from workflow_scripts.energy import CarbonSettings, EnergyMeter
from workflow_scripts.experiments import experiment_class
from workflow_scripts.experiments.base import Experiment, VariantSpec
from workflow_scripts.files import atomic_path, write_json
from workflow_scripts.measurement import (
    count_flops,
    peak_memory_mb,
    synchronize,
)
from workflow_scripts.runtime import DTYPES, resolve_device, seed_everything, set_threads

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class TrainOutputs:
    model: Path
    history: Path
    emissions: Path
    summary: Path


def weighted_loss(terms: dict[str, torch.Tensor], weights: dict[str, float]) -> torch.Tensor:
    return sum(weights[name] * value for name, value in terms.items())


def make_optimizer(model: nn.Module, training: dict[str, Any]) -> torch.optim.Optimizer:
    name = training["optimizer"]
    if name == "adam":
        return torch.optim.Adam(model.parameters(), lr=training["lr"])
    if name == "adamw":
        return torch.optim.AdamW(
            model.parameters(), lr=training["lr"], weight_decay=training["weight_decay"]
        )
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


class _Recorder:
    """Collects learning-curve rows: step, loss terms, test error, time and energy so far."""

    def __init__(self, experiment: Experiment, model: nn.Module, meter: EnergyMeter) -> None:
        self.experiment, self.model, self.meter = experiment, model, meter
        self.rows: list[dict[str, Any]] = []
        self.start = time.perf_counter()

    def record(self, step: int, phase: str, loss: float, terms: dict[str, torch.Tensor]) -> float:
        test_mse = self.experiment.test_mse(self.model)
        synchronize(self.experiment.device)
        self.rows.append(
            {
                "step": step,
                "phase": phase,
                "loss": loss,
                **{f"loss_{name}": value.item() for name, value in terms.items()},
                "test_mse": test_mse,
                "elapsed_s": time.perf_counter() - self.start,
                "energy_kwh": self.meter.energy_kwh_so_far(),
            }
        )
        return test_mse


def fit(
    experiment: Experiment, model: nn.Module, spec: VariantSpec, meter: EnergyMeter
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Train ``model`` within the budget of ``spec.training``; return history and counters."""
    training = spec.training
    weights = spec.loss_weights
    target = training.get("target_test_mse")
    recorder = _Recorder(experiment, model, meter)
    optimizer = make_optimizer(model, training)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: learning_rate_factor(step, training)
    )
    loss_evaluations = 0
    reached_target = False
    step = 0
    with tqdm(total=training["steps"], desc=f"{spec.model} adam", mininterval=2.0) as bar:
        while step < training["steps"]:
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
    }
    return history, counters


def open_experiment(
    spec: VariantSpec, *, seed: int, data_path: Path, device_name: str
) -> Experiment:
    """Seed, set threads and load the experiment's data on the configured device."""
    device = resolve_device(device_name)
    seed_everything(seed)
    set_threads(spec.training["threads"])
    return experiment_class(spec.experiment)(data_path, device, DTYPES[spec.training["dtype"]])


def train_variant(
    spec: VariantSpec,
    *,
    seed: int,
    data_path: Path,
    outputs: TrainOutputs,
    carbon: CarbonSettings,
    device_name: str = "auto",
) -> dict[str, Any]:
    """Train one (variant, seed), writing checkpoint, history, emissions and train.json."""
    experiment = open_experiment(spec, seed=seed, data_path=data_path, device_name=device_name)
    device = experiment.device
    model = experiment.build_model(spec)
    n_parameters = sum(p.numel() for p in model.parameters())
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

    with EnergyMeter(carbon, outputs.emissions, stage="train") as meter:
        history, counters = fit(experiment, model, spec, meter)
        synchronize(device)
    reading = meter.reading
    assert reading is not None

    with atomic_path(outputs.model) as tmp:
        torch.save({"state_dict": model.state_dict(), "spec": dataclasses.asdict(spec)}, tmp)
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
        "final_test_mse": float(history["test_mse"].iloc[-1]),
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
