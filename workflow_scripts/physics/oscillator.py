"""The damped harmonic oscillator m x'' + μ x' + k x = 0: exact solution and residual."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch
from torch import Tensor

from workflow_scripts.physics.autodiff import derivative


@dataclasses.dataclass(frozen=True)
class DampedOscillator:
    """Parameters in the δ = μ/(2m), ω0 = sqrt(k/m) form; underdamped (δ < ω0) only."""

    delta: float = 2.0
    omega0: float = 20.0
    x0: float = 1.0
    v0: float = 0.0
    mass: float = 1.0

    def __post_init__(self) -> None:
        if not 0 <= self.delta < self.omega0:
            raise ValueError(
                f"oscillator must be underdamped (0 <= delta < omega0), got delta={self.delta}, "
                f"omega0={self.omega0}"
            )

    @property
    def damping(self) -> float:
        """μ = 2 m δ."""
        return 2.0 * self.mass * self.delta

    @property
    def stiffness(self) -> float:
        """k = m ω0²."""
        return self.mass * self.omega0**2

    @property
    def omega(self) -> float:
        """Damped angular frequency sqrt(ω0² − δ²)."""
        return math.sqrt(self.omega0**2 - self.delta**2)

    def exact(self, t: np.ndarray | Tensor) -> np.ndarray | Tensor:
        """x(t) = e^{−δt} (x0 cos ωt + (v0 + δ x0)/ω sin ωt), for numpy arrays or tensors."""
        xp = torch if isinstance(t, Tensor) else np
        w = self.omega
        return xp.exp(-self.delta * t) * (
            self.x0 * xp.cos(w * t) + (self.v0 + self.delta * self.x0) / w * xp.sin(w * t)
        )

    def residual(self, t: Tensor, x: Tensor) -> Tensor:
        """(m x'' + μ x' + k x) / k for x(t) computed from ``t`` (N, 1) requiring grad.

        Divided by k so that the residual is on the scale of x and its loss weight is O(1).
        """
        x_t = derivative(x, t, 0)
        x_tt = derivative(x_t, t, 0)
        return (self.mass * x_tt + self.damping * x_t + self.stiffness * x) / self.stiffness

    def constrain(self, t: Tensor, raw: Tensor) -> Tensor:
        """x0 + v0 t + (1 − e^{−(ω0 t)²}) N(t): x(0) = x0 and x'(0) = v0 for any network N.

        The gate behaves like (ω0 t)² near t = 0, so both conditions hold exactly, and it
        saturates to 1 after a period, so N stays O(1) (with a bare t² factor N(0) would have
        to equal x''(0)/2 = −ω0² x0 / 2, which a tanh network reaches only slowly).
        """
        gate = 1.0 - torch.exp(-((self.omega0 * t) ** 2))
        return self.x0 + self.v0 * t + gate * raw
