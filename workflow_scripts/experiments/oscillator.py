"""Experiment 1: extrapolating a damped harmonic oscillator from early observations."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import xarray as xr
from torch import Tensor

from workflow_scripts.experiments.pointwise import PointwiseExperiment, pointwise_dataset
from workflow_scripts.physics.oscillator import DampedOscillator


def oscillator_from_settings(data: dict[str, Any]) -> DampedOscillator:
    return DampedOscillator(
        delta=data["delta"], omega0=data["omega0"], x0=data["x0"], v0=data["v0"]
    )


def make_oscillator_dataset(data: dict[str, Any]) -> xr.Dataset:
    """Observations in [0, observation_end]; collocation and test points over [0, t_end].

    The test grid spans the whole window, so the test error measures extrapolation.
    """
    oscillator = oscillator_from_settings(data)
    rng = np.random.default_rng(data["seed"])
    t_obs = np.linspace(0.0, data["observation_end"], data["n_observations"])
    x_obs = oscillator.exact(t_obs) + data["observation_noise"] * rng.standard_normal(t_obs.size)
    t_test = np.linspace(0.0, data["t_end"], data["n_test"])
    return pointwise_dataset(
        ("t",),
        observations=(t_obs[:, None], x_obs),
        conditions=(np.zeros((1, 1)), np.array([oscillator.x0])),
        collocation=np.linspace(0.0, data["t_end"], data["n_collocation"])[:, None],
        test=(t_test[:, None], oscillator.exact(t_test)),
        attrs={"experiment": "oscillator", "settings": json.dumps(data)},
    )


class OscillatorExperiment(PointwiseExperiment):
    name = "oscillator"
    coordinates = ("t",)
    prediction_unit = "the trajectory x(t) on the whole test grid"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.oscillator = oscillator_from_settings(json.loads(self.attrs["settings"]))

    def residual(self, inputs: Tensor, u: Tensor) -> Tensor:
        return self.oscillator.residual(inputs, u)

    def constrain(self, inputs: Tensor, raw: Tensor) -> Tensor:
        return self.oscillator.constrain(inputs, raw)
