"""Exponential decay u' = -k u, u(0) = u0: exact solution, residual, built-in condition."""

from __future__ import annotations

import dataclasses

import numpy as np
from torch import Tensor

from workflow_scripts.physics.autodiff import derivative


@dataclasses.dataclass(frozen=True)
class ExponentialDecay:
    k: float
    u0: float

    def exact(self, t: np.ndarray) -> np.ndarray:
        return self.u0 * np.exp(-self.k * t)

    def residual(self, t: Tensor, u: Tensor) -> Tensor:
        return derivative(u, t, 0) + self.k * u

    def constrain(self, t: Tensor, raw: Tensor) -> Tensor:
        return self.u0 + t * raw
