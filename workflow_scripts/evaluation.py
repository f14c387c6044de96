"""The evaluation stage: efficacy on the test set and the cost of one prediction."""

from __future__ import annotations

import dataclasses
import logging
import math
from pathlib import Path
from typing import Any

import torch

from workflow_scripts.energy import CarbonSettings, EnergyMeter
from workflow_scripts.experiments.base import VariantSpec
from workflow_scripts.families.runs import load_model, open_experiment
from workflow_scripts.files import write_json
from workflow_scripts.measurement import (
    count_flops,
    describe_device,
    synchronize,
    time_repeated,
)

log = logging.getLogger(__name__)


class NonFiniteMetrics(RuntimeError):
    """A metric (or the predictions behind it) is NaN or infinite; the message names the
    variant, the seed and the metric."""


@dataclasses.dataclass(frozen=True)
class EvaluateOutputs:
    metrics: Path
    predictions: Path
    emissions: Path


def _non_finite(value: Any) -> bool:
    """Whether a number, or any number in a list (per-step rollout metrics), is NaN or inf."""
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(value, (int, float)):
        return not math.isfinite(value)
    if isinstance(value, (list, tuple)):
        return any(_non_finite(item) for item in value)
    return False


def refuse_non_finite(metrics: dict[str, Any], spec: VariantSpec, seed: int) -> None:
    """Raise :class:`NonFiniteMetrics` naming the first metric that is NaN or infinite."""
    bad = [key for key, value in metrics.items() if _non_finite(value)]
    if bad:
        raise NonFiniteMetrics(
            f"evaluation of {spec.experiment}/{spec.model} seed {seed}: metric {bad[0]!r} is "
            f"{metrics[bad[0]]!r} (not finite; also: {bad[1:] or 'none'}); no metrics.json or "
            "predictions.nc is written. The trained model predicts non-finite values."
        )


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
    inference_relative_precision: float | None = None,
    max_inference_seconds: float = math.inf,
    rollout_steps: int | None = None,
    device_name: str = "auto",
    threads: int | None = None,
) -> dict[str, Any]:
    """Score a trained variant and measure inference by repeating one prediction.

    Inference is repeated under one tracker for at least ``min_inference_seconds`` (so that
    per-prediction energy is a total divided by a count, not a reading at the noise floor) and
    until the mean prediction time is known to ``inference_relative_precision``.
    Non-finite metrics raise :class:`NonFiniteMetrics` before anything is written.
    """
    experiment = open_experiment(
        spec, seed=seed, data_path=data_path, device_name=device_name, threads=threads
    )
    device = experiment.device
    model = load_model(experiment, checkpoint, spec)
    experiment.rollout_steps = rollout_steps

    efficacy = experiment.efficacy_metrics(model)
    refuse_non_finite(efficacy, spec, seed)  # before spending the inference timing on it
    predict = experiment.prediction(model)
    with torch.no_grad():
        flops = count_flops(predict)
        predict()  # warm-up: first calls pay for allocation and kernel selection
        synchronize(device)
        with EnergyMeter(carbon, outputs.emissions, stage="inference") as meter:
            repeats = time_repeated(
                predict,
                device,
                min_inference_seconds,
                min_inference_repeats,
                inference_relative_precision,
                max_inference_seconds,
            )
    reading = meter.reading
    assert reading is not None

    metrics = {
        "experiment": spec.experiment,
        "model": spec.model,
        "physics_bias": spec.physics_bias,
        "seed": seed,
        **efficacy,
        "prediction_unit": experiment.prediction_unit,
        "inference_repeats": repeats,
        # Energy without PUE and CO2: the summary applies carbon.pue and the grid intensity.
        **reading.entries(
            "inference", carbon.shared_load_threshold, per_unit=("prediction", repeats)
        ),
        "inference_flops_per_prediction": flops,
        "device": describe_device(device),
    }
    refuse_non_finite(metrics, spec, seed)
    experiment.save_predictions(model, outputs.predictions)
    write_json(outputs.metrics, metrics)
    log.info("%s/%s seed %d: %s", spec.experiment, spec.model, seed, efficacy)
    return metrics
