"""Shared machinery of the PINN-family experiments (oscillator, Burgers).

The solution u(coordinates) is a network evaluated point by point. Each experiment supplies
its data points and two physics hooks: the residual of its differential equation and the
map that builds its initial/boundary conditions into the output (the strong prior). The loss
terms are then the same for every such experiment:

- ``data``: MSE against observations of the solution,
- ``conditions``: MSE against initial/boundary values,
- ``physics``: mean squared residual at collocation points.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import torch
import xarray as xr
from torch import Tensor, nn

from workflow_scripts.architectures import build_architecture
from workflow_scripts.data.pointwise import write_dataset
from workflow_scripts.experiments.base import VariantSpec
from workflow_scripts.experiments.card import ExperimentCard
from workflow_scripts.families.base import Experiment
from workflow_scripts.models.mlp import ConstrainedOutput

LOSS_TERMS = ("data", "conditions", "physics")


class PointwiseExperiment(Experiment):
    """A PINN-family experiment as its card declares it (``PointwiseFamily``): coordinates,
    physics hooks (residual, conditions) and what one prediction is."""

    def __init__(
        self, card: ExperimentCard, data_path: Path, device: torch.device, dtype: torch.dtype
    ) -> None:
        super().__init__(card, data_path, device, dtype)
        with xr.open_dataset(data_path, engine="h5netcdf") as dataset:
            self.dataset = dataset.load()
        self.attrs = dict(self.dataset.attrs)
        self.coordinates = card.family.coordinates
        self.physics = card.family.physics(json.loads(self.attrs["settings"]))

        def tensor(name: str) -> Tensor:
            values = self.dataset[name].values
            if values.ndim == 1:
                values = values[:, None]
            return torch.as_tensor(values, dtype=dtype, device=device)

        self.observation_inputs = tensor("observation_inputs")
        self.observation_values = tensor("observation_values")
        self.condition_inputs = tensor("condition_inputs")
        self.condition_values = tensor("condition_values")
        self.collocation_inputs = tensor("collocation_inputs")
        self.validation_inputs = tensor("validation_inputs")
        self.validation_values = tensor("validation_values")
        self.test_inputs = tensor("test_inputs")
        self.test_values = tensor("test_values")
        self.test_is_extrapolation = (
            torch.as_tensor(self.dataset["test_is_extrapolation"].values, device=device)
            if "test_is_extrapolation" in self.dataset
            else None
        )

    @property
    def prediction_unit(self) -> str:
        return self.card.family.prediction_unit(self.attrs)

    def residual(self, inputs: Tensor, u: Tensor) -> Tensor:
        """The differential equation's residual at ``inputs`` (requiring grad) for u(inputs)."""
        return self.physics.residual(inputs, u)

    def constrain(self, inputs: Tensor, raw: Tensor) -> Tensor:
        """Build the initial/boundary conditions into the raw network output."""
        return self.physics.constrain(inputs, raw)

    def build_model(self, spec: VariantSpec) -> nn.Module:
        """The variant's declared network (``architecture.kind``: see ``architectures/``)."""
        network = build_architecture(spec.architecture, "pointwise", len(self.coordinates), 1)
        model = ConstrainedOutput(network, self.constrain) if spec.hard_constraints else network
        return model.to(device=self.device, dtype=self.dtype)

    def loss_terms(self, model: nn.Module, spec: VariantSpec) -> dict[str, Tensor]:
        weights = spec.loss_weights
        terms: dict[str, Tensor] = {}
        if weights.get("data", 0) > 0:
            terms["data"] = _mse(model(self.observation_inputs), self.observation_values)
        if weights.get("conditions", 0) > 0:
            terms["conditions"] = _mse(model(self.condition_inputs), self.condition_values)
        if weights.get("physics", 0) > 0:
            inputs = self.collocation_inputs.detach().requires_grad_(True)
            terms["physics"] = self.residual(inputs, model(inputs)).pow(2).mean()
        return terms

    @torch.no_grad()
    def predict_test(self, model: nn.Module) -> Tensor:
        return model(self.test_inputs)

    @torch.no_grad()
    def val_mse(self, model: nn.Module) -> float:
        return float(_mse(model(self.validation_inputs), self.validation_values))

    def efficacy_metrics(self, model: nn.Module) -> dict[str, float]:
        prediction = self.predict_test(model)
        metrics = {
            **_errors("test", prediction, self.test_values),
            "test_max_abs_error": float((prediction - self.test_values).abs().max()),
        }
        if self.test_is_extrapolation is not None:
            beyond = self.test_is_extrapolation
            metrics |= _errors("test_extrap", prediction[beyond], self.test_values[beyond])
        return metrics

    def prediction(self, model: nn.Module) -> Callable[[], Tensor]:
        return lambda: self.predict_test(model)

    def save_predictions(self, model: nn.Module, path: Path) -> None:
        predicted = self.predict_test(model).squeeze(1).double().cpu().numpy()
        dataset = xr.Dataset(
            {
                "test_inputs": self.dataset["test_inputs"],
                "test_values": self.dataset["test_values"],
                "prediction": ("test", predicted),
            },
            attrs=self.attrs,
        )
        write_dataset(dataset, path)


def _mse(prediction: Tensor, target: Tensor) -> Tensor:
    return (prediction - target).pow(2).mean()


def _errors(prefix: str, prediction: Tensor, target: Tensor) -> dict[str, float]:
    """``{prefix}_mse`` and ``{prefix}_rel_l2`` (‖prediction − target‖ / ‖target‖)."""
    error = prediction - target
    return {
        f"{prefix}_mse": float(error.pow(2).mean()),
        f"{prefix}_rel_l2": float(error.norm() / target.norm()),
    }
