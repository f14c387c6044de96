"""The evaluation stage: efficacy on the test set and the cost of one prediction."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import torch

from workflow_scripts.energy import CarbonSettings, EnergyMeter
from workflow_scripts.experiments.base import VariantSpec
from workflow_scripts.files import write_json
from workflow_scripts.measurement import (
    count_flops,
    synchronize,
    time_repeated,
)
from workflow_scripts.training import describe_device, load_model, open_experiment

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class EvaluateOutputs:
    metrics: Path
    predictions: Path
    emissions: Path


def evaluate_variant(
    spec: VariantSpec,
    *,
    seed: int,
    data_path: Path,
    checkpoint: Path,
    outputs: EvaluateOutputs,
    carbon: CarbonSettings,
    min_inference_seconds: float,
    min_inference_repeats: int = 3,
    rollout_steps: int | None = None,
    device_name: str = "auto",
    threads: int | None = None,
) -> dict[str, Any]:
    """Score a trained variant and measure inference by repeating one prediction.

    Inference is repeated for at least ``min_inference_seconds`` under one tracker, so that
    per-prediction energy is a total divided by a count, not a reading at the noise floor.
    """
    experiment = open_experiment(
        spec, seed=seed, data_path=data_path, device_name=device_name, threads=threads
    )
    device = experiment.device
    model = load_model(experiment, checkpoint, spec)
    experiment.rollout_steps = rollout_steps

    efficacy = experiment.efficacy_metrics(model)
    predict = experiment.prediction(model)
    with torch.no_grad():
        flops = count_flops(predict)
        predict()  # warm-up: first calls pay for allocation and kernel selection
        synchronize(device)
        with EnergyMeter(carbon, outputs.emissions, stage="inference") as meter:
            repeats = time_repeated(predict, device, min_inference_seconds, min_inference_repeats)
    reading = meter.reading
    assert reading is not None
    per_prediction = reading.per(repeats)
    experiment.save_predictions(model, outputs.predictions)

    metrics = {
        "experiment": spec.experiment,
        "model": spec.model,
        "physics_bias": spec.physics_bias,
        "seed": seed,
        **efficacy,
        "prediction_unit": experiment.prediction_unit,
        "inference_repeats": repeats,
        "inference_wall_s_total": reading.duration_s,
        "inference_wall_s_per_prediction": per_prediction["wall_s"],
        "inference_energy_kwh_per_prediction": per_prediction["energy_kwh"],
        "inference_co2_g_per_prediction": per_prediction["co2_g"],
        "inference_flops_per_prediction": flops,
        "energy_method": reading.energy_method,
        "energy_is_estimate": reading.energy_is_estimate,
        "device": describe_device(device),
    }
    write_json(outputs.metrics, metrics)
    log.info("%s/%s seed %d: %s", spec.experiment, spec.model, seed, efficacy)
    return metrics
