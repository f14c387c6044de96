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

import abc
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
import xarray as xr
from torch import Tensor, nn

from workflow_scripts.experiments.base import Experiment, VariantSpec
from workflow_scripts.files import atomic_path
from workflow_scripts.models.mlp import MLP, ConstrainedOutput

LOSS_TERMS = ("data", "conditions", "physics")


def pointwise_dataset(
    coordinates: tuple[str, ...],
    *,
    observations: tuple[np.ndarray, np.ndarray],
    conditions: tuple[np.ndarray, np.ndarray],
    collocation: np.ndarray,
    test: tuple[np.ndarray, np.ndarray],
    attrs: dict,
) -> xr.Dataset:
    """Pack the point sets of a pointwise experiment into one self-describing Dataset."""

    def points(name: str, inputs: np.ndarray) -> xr.DataArray:
        return xr.DataArray(np.asarray(inputs, dtype=np.float64), dims=(name, "coordinate"))

    def values(name: str, targets: np.ndarray) -> xr.DataArray:
        return xr.DataArray(np.asarray(targets, dtype=np.float64).reshape(-1), dims=(name,))

    return xr.Dataset(
        {
            "observation_inputs": points("observation", observations[0]),
            "observation_values": values("observation", observations[1]),
            "condition_inputs": points("condition", conditions[0]),
            "condition_values": values("condition", conditions[1]),
            "collocation_inputs": points("collocation", collocation),
            "test_inputs": points("test", test[0]),
            "test_values": values("test", test[1]),
        },
        coords={"coordinate": list(coordinates)},
        attrs=attrs,
    )


def write_dataset(dataset: xr.Dataset, path: Path) -> None:
    with atomic_path(path) as tmp:
        dataset.to_netcdf(tmp, engine="h5netcdf")


class PointwiseExperiment(Experiment):
    coordinates: ClassVar[tuple[str, ...]]

    def __init__(self, data_path: Path, device: torch.device, dtype: torch.dtype) -> None:
        super().__init__(data_path, device, dtype)
        with xr.open_dataset(data_path, engine="h5netcdf") as dataset:
            self.dataset = dataset.load()
        self.attrs = dict(self.dataset.attrs)

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
        self.test_inputs = tensor("test_inputs")
        self.test_values = tensor("test_values")

    @abc.abstractmethod
    def residual(self, inputs: Tensor, u: Tensor) -> Tensor:
        """The differential equation's residual at ``inputs`` (requiring grad) for u(inputs)."""

    @abc.abstractmethod
    def constrain(self, inputs: Tensor, raw: Tensor) -> Tensor:
        """Build the initial/boundary conditions into the raw network output."""

    def build_model(self, spec: VariantSpec) -> nn.Module:
        arch = spec.architecture
        network = MLP(
            in_features=len(self.coordinates),
            out_features=1,
            width=arch["width"],
            depth=arch["depth"],
            activation=arch["activation"],
            snake_frequency=arch.get("snake_frequency", 1.0),
        )
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

    def test_mse(self, model: nn.Module) -> float:
        return float(_mse(self.predict_test(model), self.test_values))

    def efficacy_metrics(self, model: nn.Module) -> dict[str, float]:
        error = self.predict_test(model) - self.test_values
        return {
            "test_mse": float(error.pow(2).mean()),
            "test_rel_l2": float(error.norm() / self.test_values.norm()),
            "test_max_abs_error": float(error.abs().max()),
        }

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
