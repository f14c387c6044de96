"""The training stage of one (variant, seed): open its data, build its model, fit it under the
energy meter, and write the model, the learning curve, the emissions and ``train.json``."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from workflow_scripts.energy import CarbonSettings, EnergyMeter, EnergyReading, Spent
from workflow_scripts.experiments.base import VariantSpec
from workflow_scripts.families.runs import open_experiment
from workflow_scripts.files import atomic_path, write_json
from workflow_scripts.measurement import (
    count_flops,
    count_parameters,
    describe_device,
    peak_memory_mb,
    synchronize,
)
from workflow_scripts.training.checkpoints import checkpoint_path, tensor_state
from workflow_scripts.training.learning_curve import without
from workflow_scripts.training.loops import fit
from workflow_scripts.training.optimisers import weighted_loss

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class TrainOutputs:
    model: Path
    history: Path
    emissions: Path
    summary: Path


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
    """Train one (variant, seed), writing checkpoint, history, emissions and train.json.

    A diverging run raises :class:`TrainingDiverged` and writes none of them.
    """
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
        history, counters, earlier, validation = fit(
            experiment, model, spec, meter, checkpoint, seed=seed
        )
        synchronize(device)
    assert meter.reading is not None
    # A resumed run's totals cover all its segments; the training's leave its validations out.
    reading = without(meter.reading.including(earlier), validation)

    with atomic_path(outputs.model) as tmp:
        torch.save({"state_dict": tensor_state(model), "spec": dataclasses.asdict(spec)}, tmp)
    with atomic_path(outputs.history) as tmp:
        history.to_csv(tmp, index=False)

    memory_mb, memory_kind = peak_memory_mb(device)
    summary = {
        "experiment": spec.experiment,
        "model": spec.model,
        "physics_bias": spec.physics_bias,
        "seed": seed,
        "n_parameters": n_parameters,
        "flops_per_train_step": flops_per_step,
        "train_flops_total": flops_per_step * counters["loss_evaluations"],
        **counters,
        # The learning curve's last point, on the validation set (the test error is the
        # evaluate stage's).
        "final_val_mse": float(history["val_mse"].iloc[-1]),
        **_energy_fields(spec, history, reading, validation, carbon),
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


def _energy_fields(
    spec: VariantSpec,
    history: pd.DataFrame,
    reading: EnergyReading,
    validation: Spent,
    carbon: CarbonSettings,
) -> dict[str, Any]:
    """train.json's energy fields, without PUE and CO2 (the summary applies carbon.pue and the
    grid intensity): ``train_*`` the training alone, ``validation_*`` its in-loop evaluations
    apart, and the training energy at which the curve first reached the target, if it did."""
    target = spec.training.get("target_val_mse")
    reached = history[history["val_mse"] <= target] if target is not None else history.iloc[0:0]
    return {
        **reading.entries("train", carbon.shared_load_threshold),
        "validation_wall_s": validation["duration_s"],
        "validation_energy_kwh": validation["energy_kwh"],
        "energy_to_target_kwh": float(reached["energy_kwh"].iloc[0]) if len(reached) else None,
    }
