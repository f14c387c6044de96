"""The contract between an experiment family and the generic train / evaluate stages."""

from __future__ import annotations

import abc
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor, nn

from workflow_scripts.experiments.base import VariantSpec
from workflow_scripts.experiments.card import ExperimentCard


class Experiment(abc.ABC):
    """An experiment's data on a device, and how its variants are built and scored.

    The training loop asks only for loss terms and a validation error (it never reads the test
    set); the evaluation stage asks for efficacy metrics on the test set, one "prediction" to
    time, and predictions to save for figures.
    """

    #: Autoregressive rollout length, for experiments that roll out; None: as long as the data.
    rollout_steps: int | None = None

    def __init__(
        self, card: ExperimentCard, data_path: Path, device: torch.device, dtype: torch.dtype
    ) -> None:
        self.card = card
        self.name = card.name
        self.data_path = Path(data_path)
        self.device = device
        self.dtype = dtype

    @property
    @abc.abstractmethod
    def prediction_unit(self) -> str:
        """What one prediction is, for the per-prediction inference costs."""

    @abc.abstractmethod
    def build_model(self, spec: VariantSpec) -> nn.Module: ...

    @abc.abstractmethod
    def loss_terms(self, model: nn.Module, spec: VariantSpec) -> dict[str, Tensor]:
        """Unweighted loss terms of one optimisation step, only those with a weight > 0."""

    @abc.abstractmethod
    def val_mse(self, model: nn.Module) -> float:
        """The validation error tracked during training (learning curve, early stop), on
        points disjoint from the test set's."""

    @abc.abstractmethod
    def efficacy_metrics(self, model: nn.Module) -> dict[str, float]: ...

    @abc.abstractmethod
    def prediction(self, model: nn.Module) -> Callable[[], Tensor]:
        """A call that makes one prediction, for timing and FLOP counting of inference."""

    @abc.abstractmethod
    def save_predictions(self, model: nn.Module, path: Path) -> None: ...
