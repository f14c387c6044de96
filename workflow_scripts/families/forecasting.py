"""Experiment 3 (the study's main one): next-frame forecasting of the 2D shear flow.

The data are the regridded Zarr stores of the regrid stage (``<data>/{train,valid,test}.zarr``
with ``<split>.stats.yaml`` beside them); they are small, so each split is loaded whole as a
float32 tensor (trajectory, time, field, x, y), z-scored with the TRAIN statistics. A sample is
a window of ``INPUT_FRAMES`` consecutive frames (channel = frame·4 + field, oldest first, the
layout of :func:`metrics.autoregressive_rollout`) and the frame that follows.

Variants (``architecture.kind``, each registered by its module in ``models/``, see
``models/registry.py``): ``unet`` (no prior), ``unet_physloss`` (U-Net plus the soft
``shear_flow_penalty`` terms), ``flow_matching`` (conditional flow matching), ``fno`` (spectral,
periodic) and ``fno_divfree`` (FNO with an exactly divergence-free velocity). U-Net and FNO
predict the increment over the last frame (``residual: true``, the default here, not the
study's): with a few hundred steps on a CPU, direct prediction does not beat persistence,
because the one-step change is only a few per cent of a field's spread.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr
from torch import Tensor, nn

from workflow_scripts.data.pointwise import write_dataset
from workflow_scripts.data.zarr_store import read_store_stats, read_training_store
from workflow_scripts.experiments.base import VariantSpec
from workflow_scripts.experiments.card import ExperimentCard
from workflow_scripts.experiments.shear_flow import INPUT_FRAMES
from workflow_scripts.families.base import Experiment
from workflow_scripts.metrics import (
    autoregressive_rollout,
    field_metrics,
    mse_skill_score,
    rollout_metrics,
)
from workflow_scripts.models.registry import ForecastSetting, build_forecaster
from workflow_scripts.physics.fields import FIELD_NAMES
from workflow_scripts.physics.shear_flow_penalty import shear_flow_penalty, tracer_diffusivity
from workflow_scripts.runtime import to_precision

FIELDS = len(FIELD_NAMES)
# Valid windows scored by val_mse during training: evenly spread, few, so logging stays cheap.
TRACKED_WINDOWS = 16


def load_split(directory: Path, split: str) -> tuple[Tensor, Tensor, float]:
    """(trajectory, time, field, x, y) float32 fields, (trajectory,) diffusivities 1/(Re·Sc)
    and the time between frames."""
    with read_training_store(directory / f"{split}.zarr") as store:
        fields = np.stack([store[name].values for name in FIELD_NAMES], axis=2)
        diffusivity = tracer_diffusivity(
            torch.as_tensor(store["reynolds"].values, dtype=torch.float64),
            torch.as_tensor(store["schmidt"].values, dtype=torch.float64),
        )
        dt = float(np.diff(store["time"].values[:2])[0]) if store.sizes["time"] > 1 else 0.1
    return torch.as_tensor(fields, dtype=torch.float32), diffusivity.float(), dt


class Windows:
    """The (trajectory, start) index of every window of one z-scored split."""

    def __init__(self, series: Tensor, diffusivity: Tensor) -> None:
        self.series = series  # (trajectory, time, field, x, y), z-scored
        self.diffusivity = diffusivity
        n_traj, n_time = series.shape[:2]
        if n_time <= INPUT_FRAMES:
            raise ValueError(f"{n_time} frames per trajectory; a window needs {INPUT_FRAMES + 1}")
        starts = torch.arange(n_time - INPUT_FRAMES)
        self.index = torch.cartesian_prod(torch.arange(n_traj), starts)  # (N, 2)

    def __len__(self) -> int:
        return len(self.index)

    def batch(self, rows: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Inputs (B, 4·4, x, y), target (B, 4, x, y) and diffusivity (B,) of windows ``rows``."""
        traj, start = self.index[rows].unbind(dim=1)
        frames = self.series[traj[:, None], start[:, None] + torch.arange(INPUT_FRAMES + 1)]
        inputs = frames[:, :INPUT_FRAMES].flatten(start_dim=1, end_dim=2)
        return inputs, frames[:, INPUT_FRAMES], self.diffusivity[traj]


class ShearFlowExperiment(Experiment):
    """The shear flow's forecasting problem (its card: ``experiments/shear_flow.py``)."""

    def __init__(
        self, card: ExperimentCard, data_path: Path, device: torch.device, dtype: torch.dtype
    ) -> None:
        # data_path: the directory of the stores, or one store in it (the train rule's input).
        data_path = Path(data_path)
        directory = data_path.parent if data_path.suffix == ".zarr" else data_path
        super().__init__(card, directory, device, dtype)
        stats = read_store_stats(directory / "train.stats.yaml")
        self.mean = torch.tensor([stats["mean"][n] for n in FIELD_NAMES], dtype=dtype)
        self.std = torch.tensor([stats["std"][n] for n in FIELD_NAMES], dtype=dtype)
        # Typical one-step change per field in z-units: the scale of a residual model's output.
        self.delta_scale = torch.tensor([stats["std_delta"][n] for n in FIELD_NAMES]) / self.std
        self.splits: dict[str, Windows] = {}
        for split in ("train", "valid", "test"):
            if (directory / f"{split}.zarr").exists():
                fields, diffusivity, self.dt = load_split(directory, split)
                series = self.normalise(fields.to(device=device, dtype=dtype))
                self.splits[split] = Windows(series, diffusivity.to(device=device, dtype=dtype))
        if "valid" not in self.splits:  # the config check requires it; a bare store may lack it
            raise FileNotFoundError(
                f"{directory / 'valid.zarr'} not found: the learning curve is tracked on the "
                "valid split, never on test"
            )
        self.tracked = self.splits["valid"]
        rows = torch.linspace(0, len(self.tracked) - 1, min(TRACKED_WINDOWS, len(self.tracked)))
        self.tracked_rows = rows.round().long().unique()
        # Minibatches from their own generator, seeded from the run's seed (seed_everything ran
        # just before), so the sample sequence is part of the checkpointed state.
        self.generator = torch.Generator().manual_seed(torch.initial_seed())
        self._rollouts: dict[int, dict[str, Any]] = {}
        self.mean, self.std = self.mean.to(device), self.std.to(device)

    @property
    def prediction_unit(self) -> str:  # type: ignore[override]
        nx, ny = self.splits["train"].series.shape[-2:]
        return f"one forecast step of one {FIELDS}-field frame ({nx} × {ny})"

    # -- normalisation ---------------------------------------------------------------------
    def _shape(self, values: Tensor) -> Tensor:
        return values.to(self.device)[:, None, None]  # broadcast over (field, x, y)

    def normalise(self, fields: Tensor) -> Tensor:
        return (fields - self._shape(self.mean)) / self._shape(self.std)

    def denormalise(self, fields: Tensor) -> Tensor:
        return fields * self._shape(self.std) + self._shape(self.mean)

    # -- sampler state, saved in training checkpoints --------------------------------------
    def sampler_state(self) -> Tensor:
        return self.generator.get_state()

    def load_sampler_state(self, state: Tensor) -> None:
        self.generator.set_state(state)

    # -- models and losses -----------------------------------------------------------------
    def build_model(self, spec: VariantSpec) -> nn.Module:
        """The variant's registered forecaster (``architecture.kind``, see models/registry)."""
        setting = ForecastSetting(
            input_frames=INPUT_FRAMES,
            fields=FIELDS,
            delta_scale=self.delta_scale,
            mean=self.mean,
            std=self.std,
        )
        model = build_forecaster(spec.architecture, setting)
        return to_precision(model.to(device=self.device), self.dtype)

    def loss_terms(self, model: nn.Module, spec: VariantSpec) -> dict[str, Tensor]:
        train = self.splits["train"]
        rows = torch.randint(
            len(train), (spec.training["batch_size"],), generator=self.generator
        ).to(train.index.device)
        inputs, target, diffusivity = train.batch(rows)
        weights = spec.loss_weights
        if hasattr(model, "training_loss"):  # a model with its own objective (flow matching)
            # Its time and noise also come from the sampler's generator (CPU), hence moved.
            return {"data": model.training_loss(inputs, target, _on_cpu(self.generator, model))}
        prediction = model(inputs)
        terms = {"data": (prediction - target).square().mean()}
        if weights.get("divergence", 0) > 0 or weights.get("tracer", 0) > 0:
            penalty = shear_flow_penalty(
                inputs,
                prediction,
                mean=self.mean,
                std=self.std,
                diffusivity=diffusivity,
                dt=self.dt,
            )
            terms.update({k: v for k, v in penalty.items() if weights.get(k, 0) > 0})
        return {k: v for k, v in terms.items() if weights.get(k, 0) > 0}

    # -- scores ----------------------------------------------------------------------------
    @torch.no_grad()
    def _one_step(self, model: nn.Module, windows: Windows, rows: Tensor) -> tuple[Tensor, ...]:
        inputs, target, _ = windows.batch(rows)
        return inputs, model(inputs), target

    def val_mse(self, model: nn.Module) -> float:
        _, prediction, target = self._one_step(model, self.tracked, self.tracked_rows)
        return float((prediction - target).square().mean())

    def efficacy_metrics(self, model: nn.Module) -> dict[str, Any]:
        test = self.splits["test"]
        rows = torch.arange(len(test))
        inputs, prediction, target = self._one_step(model, test, rows)
        error = prediction - target
        physical_prediction, physical_target = (
            self.denormalise(prediction),
            self.denormalise(target),
        )
        persistence = self.denormalise(inputs[:, -FIELDS:])
        metrics: dict[str, Any] = {
            "test_mse": float(error.square().mean()),
            "test_rel_l2": float(
                (physical_prediction - physical_target).norm() / physical_target.norm()
            ),
            **field_metrics(physical_prediction, physical_target),
            "persistence_vrmse": field_metrics(persistence, physical_target)["vrmse"],
            **mse_skill_score(physical_prediction, persistence, physical_target),
        }
        rollout = self.rollout(model)
        metrics["rollout_steps"] = rollout["steps"]
        for key in ("vrmse", "pearson", "divergence", "divergence_target", "vrmse_persistence"):
            metrics[f"rollout_{key}"] = rollout["metrics"][key]
        # Network evaluations per forecast step: the ODE steps of flow matching, else one.
        metrics["evaluations_per_forecast"] = int(getattr(model, "evaluations_per_forecast", 1))
        return metrics

    @torch.no_grad()
    def rollout(self, model: nn.Module) -> dict[str, Any]:
        """Autoregressive rollout from the first frames of every test trajectory (cached)."""
        if id(model) not in self._rollouts:
            series = self.splits["test"].series
            available = series.shape[1] - INPUT_FRAMES
            steps = available if self.rollout_steps is None else self.rollout_steps
            if steps > available:
                raise ValueError(
                    f"evaluation.rollout_steps: {steps} steps, but the test trajectories hold "
                    f"{series.shape[1]} frames, enough for {available} after {INPUT_FRAMES} inputs"
                )
            series = series[:, : INPUT_FRAMES + steps]
            predicted = self.denormalise_frames(
                autoregressive_rollout(model, series[:, :INPUT_FRAMES], steps)
            )
            truth = self.denormalise_frames(series[:, INPUT_FRAMES:])
            persistence = self.denormalise_frames(series[:, INPUT_FRAMES - 1 : INPUT_FRAMES])
            metrics = rollout_metrics(predicted, truth)
            metrics["vrmse_persistence"] = rollout_metrics(persistence.expand_as(truth), truth)[
                "vrmse"
            ]
            self._rollouts[id(model)] = {
                "steps": steps,
                "prediction": predicted,
                "truth": truth,
                "metrics": metrics,
            }
        return self._rollouts[id(model)]

    def denormalise_frames(self, frames: Tensor) -> Tensor:
        """De-normalise (B, T, field, x, y)."""
        return self.denormalise(frames.flatten(end_dim=1)).reshape(frames.shape)

    def prediction(self, model: nn.Module) -> Callable[[], Tensor]:
        inputs, _, _ = self.splits["test"].batch(torch.tensor([0]))
        return lambda: model(inputs)

    def save_predictions(self, model: nn.Module, path: Path) -> None:
        """Rollout of the first test trajectory (physical units) and per-step rollout metrics."""
        rollout = self.rollout(model)
        dims = ("step", "field", "x", "y")
        steps = np.arange(1, rollout["steps"] + 1)
        variables: dict[str, Any] = {
            "truth": (dims, rollout["truth"][0].double().cpu().numpy()),
            "prediction": (dims, rollout["prediction"][0].double().cpu().numpy()),
        }
        for key, values in rollout["metrics"].items():
            variables[f"rollout_{key}"] = ("step", np.asarray(values, dtype=np.float64))
        dataset = xr.Dataset(
            variables,
            coords={"step": steps, "field": list(FIELD_NAMES), "time": ("step", steps * self.dt)},
            attrs={"experiment": self.name, "input_frames": INPUT_FRAMES},
        )
        write_dataset(dataset, path)


def _on_cpu(generator: torch.Generator, model: nn.Module) -> torch.Generator | None:
    """The sampler's generator when the model runs on the CPU; on CUDA the global one."""
    device = next(model.parameters()).device
    return generator if device.type == "cpu" else None
