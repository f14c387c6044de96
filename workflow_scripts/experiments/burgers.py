"""Experiment 2: the viscous Burgers equation u_t + u u_x = nu u_xx on [-1, 1] x [0, 1].

u(x, 0) = -sin(pi x), u(+-1, t) = 0. The exact reference comes from the Cole-Hopf transform
(:mod:`workflow_scripts.physics.burgers`); the default nu = 0.01/pi forms a near-shock at x = 0.
The variants differ only in their loss terms (see :mod:`workflow_scripts.experiments.pointwise`):
interior observations (data), initial/boundary points (conditions), the PDE residual at
collocation points (physics), or the conditions built into the output (hard constraints).
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import torch
import xarray as xr
from torch import Tensor

from workflow_scripts.experiments.pointwise import PointwiseExperiment, pointwise_dataset
from workflow_scripts.physics.burgers import (
    exact_solution,
    initial_condition,
    pde_residual,
    reference_grid,
)

X_MIN, X_MAX, T_MAX = -1.0, 1.0, 1.0


def make_burgers_dataset(data: dict[str, Any]) -> xr.Dataset:
    """Seeded point sets in float64; the test set is the whole reference grid, t-major.

    - observations: ``n_observations`` interior points, uniform in the domain, exact values;
    - conditions: ``n_initial`` points on t = 0 (u = -sin(pi x)) and ``n_boundary`` on
      x = +-1 (u = 0), alternating sides;
    - collocation: ``n_collocation`` points, uniform in the domain;
    - test: the (test_nt, test_nx) grid of ``reference_grid``, flattened row by row, so a
      prediction reshapes to attrs ``test_grid_shape`` = [nt, nx].
    """
    nu = data["nu"]
    # One independent stream per point set: changing one count leaves the other sets as they are.
    streams = np.random.SeedSequence(data["seed"]).spawn(4)
    rng_observations, rng_initial, rng_boundary, rng_collocation = map(
        np.random.default_rng, streams
    )

    def uniform_points(rng: np.random.Generator, count: int) -> np.ndarray:
        """(count, 2) points (x, t), drawn point by point (more points extend the set)."""
        return rng.uniform((X_MIN, 0.0), (X_MAX, T_MAX), size=(count, 2))

    observations = uniform_points(rng_observations, data["n_observations"])
    observed = exact_solution(observations[:, 0], observations[:, 1], nu)

    x_initial = rng_initial.uniform(X_MIN, X_MAX, data["n_initial"])
    initial = np.stack([x_initial, np.zeros_like(x_initial)], axis=1)
    sides = np.where(np.arange(data["n_boundary"]) % 2 == 0, X_MIN, X_MAX)
    boundary = np.stack([sides, rng_boundary.uniform(0.0, T_MAX, data["n_boundary"])], axis=1)
    conditions = np.concatenate([initial, boundary])
    condition_values = np.concatenate([initial_condition(x_initial), np.zeros(len(boundary))])

    collocation = uniform_points(rng_collocation, data["n_collocation"])

    x, t, u = reference_grid(nx=data["test_nx"], nt=data["test_nt"], nu=nu)
    x_grid, t_grid = np.meshgrid(x, t)  # (nt, nx) each
    test_inputs = np.stack([x_grid.ravel(), t_grid.ravel()], axis=1)

    return pointwise_dataset(
        ("x", "t"),
        observations=(observations, observed),
        conditions=(conditions, condition_values),
        collocation=collocation,
        test=(test_inputs, u.ravel()),
        attrs={
            "experiment": "burgers",
            "settings": json.dumps(data),
            "test_grid_shape": json.dumps([len(t), len(x)]),
            "test_grid_dims": json.dumps(["t", "x"]),
        },
    )


class BurgersExperiment(PointwiseExperiment):
    name = "burgers"
    coordinates = ("x", "t")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.settings = json.loads(self.attrs["settings"])
        self.nu = float(self.settings["nu"])
        self.test_grid_shape = tuple(json.loads(self.attrs["test_grid_shape"]))

    @property
    def prediction_unit(self) -> str:  # type: ignore[override]
        nt, nx = self.test_grid_shape
        return f"the solution u(x, t) on the whole {nx} × {nt} (x × t) test grid"

    def residual(self, inputs: Tensor, u: Tensor) -> Tensor:
        return pde_residual(inputs, u, self.nu)

    def constrain(self, inputs: Tensor, raw: Tensor) -> Tensor:
        """-sin(pi x) + t (1 - x^2) N(x, t): u(x, 0) and u(+-1, t) hold for any network N."""
        x, t = inputs[:, 0:1], inputs[:, 1:2]
        return -torch.sin(math.pi * x) + t * (1.0 - x * x) * raw
