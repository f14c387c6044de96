"""The contract between an experiment and the generic train / evaluate stages."""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor, nn


@dataclasses.dataclass(frozen=True)
class VariantSpec:
    """One physics-bias variant of one experiment, as merged from the validated config."""

    experiment: str
    model: str
    physics_bias: str
    architecture: dict[str, Any]
    loss_weights: dict[str, float]
    hard_constraints: bool
    training: dict[str, Any]

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> VariantSpec:
        return cls(**values)


class Experiment(abc.ABC):
    """An experiment's data on a device, and how its variants are built and scored.

    The training loop asks only for loss terms and a test error; the evaluation stage asks
    for efficacy metrics, one "prediction" to time, and predictions to save for figures.
    """

    name: ClassVar[str]
    #: What one prediction is, for the per-prediction inference costs.
    prediction_unit: ClassVar[str]

    #: Autoregressive rollout length, for experiments that roll out; None: as long as the data.
    rollout_steps: int | None = None

    def __init__(self, data_path: Path, device: torch.device, dtype: torch.dtype) -> None:
        self.data_path = Path(data_path)
        self.device = device
        self.dtype = dtype

    @abc.abstractmethod
    def build_model(self, spec: VariantSpec) -> nn.Module: ...

    @abc.abstractmethod
    def loss_terms(self, model: nn.Module, spec: VariantSpec) -> dict[str, Tensor]:
        """Unweighted loss terms of one optimisation step, only those with a weight > 0."""

    @abc.abstractmethod
    def test_mse(self, model: nn.Module) -> float:
        """The error tracked during training (and used for early stopping)."""

    @abc.abstractmethod
    def efficacy_metrics(self, model: nn.Module) -> dict[str, float]: ...

    @abc.abstractmethod
    def prediction(self, model: nn.Module) -> Callable[[], Tensor]:
        """A call that makes one prediction, for timing and FLOP counting of inference."""

    @abc.abstractmethod
    def save_predictions(self, model: nn.Module, path: Path) -> None: ...
