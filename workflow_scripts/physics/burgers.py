"""Viscous Burgers equation: exact reference solution and the PINN residual.

Problem: u_t + u u_x = nu u_xx on x in [-1, 1], t in [0, 1], u(x, 0) = -sin(pi x),
u(+-1, t) = 0. The default nu = 0.01/pi is the classic benchmark with a steep front at x = 0.

Method. The Cole-Hopf transform u = -2 nu phi_x / phi turns the problem into the heat equation
phi_t = nu phi_xx with phi(x, 0) = exp(-cos(pi x) / (2 pi nu)) (up to a constant). Because the
initial condition is odd and 2-periodic, the whole-line solution already vanishes at x = +-1,
so the heat-kernel integral gives the exact solution of the boundary-value problem:

    u(x, t) = - int sin(pi y) g(y) dz / int g(y) dz,
    y = x - sqrt(4 nu t) z,   g = exp(-cos(pi y) / (2 pi nu) - z^2).

The integrals are evaluated with the trapezoidal rule in z on [-Z, Z], Z^2 = 1/(pi nu) + 40.
The integrand is entire and, beyond |z| = Z, at least e^-40 times its peak, so the rule
converges geometrically in the number of nodes. Gauss-Hermite quadrature is the textbook
choice, but it is a poor one here: at late times the mass of the integrand sits near
|z| ~ 1/sqrt(4 nu t) ~ 9 (where cos(pi y) = -1), far out in the Gaussian tail where
Gauss-Hermite nodes are sparse, and its weights span hundreds of orders of magnitude. Uniform
nodes resolve both the Gaussian and the narrow peaks of exp(-cos(pi y) / (2 pi nu)) (width
1/sqrt(2 pi t) in z, so the rule is sized for t <= 1). The exponent spans about 1/(pi nu)
(~100 for nu = 0.01/pi), so the largest exponent at each point is subtracted before
exponentiating (log-sum-exp): nothing overflows, and the ratio is unchanged.

Accuracy measured (float64, default 201 nodes, default 256 x 100 grid x = linspace(-1, 1, 256),
t = linspace(0, 1, 100), against 4001 nodes): max |u - u_ref| = 2.8e-15 for nu = 0.01/pi and
6.7e-16 for nu = 0.025, i.e. round-off (101 nodes already reach round-off; 61 nodes give 4e-7
for nu = 0.01/pi). |u(+-1, t)| <= 3e-16. The steepest slope at x = 0 for nu = 0.01/pi is
u_x = -152.00516 at t = 0.5104698 = 1.603688/pi, matching Basdevant et al. (1986), -152.00516
at t = 1.6037/pi. The default grid takes about 0.12 s on one CPU core.
"""

import dataclasses
import math
import warnings

import numpy as np
import torch
from torch import Tensor

from workflow_scripts.physics.autodiff import derivative

DEFAULT_NU = 0.01 / math.pi

# Round-off accuracy for t <= 1 when nu >= 0.01/pi, with a 2x margin in the node spacing.
DEFAULT_QUADRATURE_POINTS = 201

# Measured: the error is at round-off while spacing * sqrt(2 pi t_max) <= 0.55 and about 1e-13
# at 0.6, then grows fast (1e-7 at 1.0). Above this we warn.
_MAX_RELATIVE_SPACING = 0.6

# Integrand cut-off: beyond |z| = Z the Gaussian is e^-40 (~4e-18) below the peak.
_TAIL_EXPONENT = 40.0

# Points evaluated per block, to bound the memory of the (points x nodes) work arrays.
_BLOCK_SIZE = 8192


def initial_condition(x: np.ndarray | Tensor) -> np.ndarray | Tensor:
    """u(x, 0) = -sin(pi x), for NumPy arrays (and scalars) or torch tensors."""
    if isinstance(x, Tensor):
        return -torch.sin(math.pi * x)
    return -np.sin(np.pi * np.asarray(x, dtype=np.float64))


def _quadrature_nodes(nu: float, quadrature_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Uniform nodes z_j on [-Z, Z] and log of their Gaussian weights, -z_j^2."""
    if quadrature_points < 3:
        raise ValueError(f"quadrature_points must be at least 3, got {quadrature_points}")
    half_width = math.sqrt(1.0 / (math.pi * nu) + _TAIL_EXPONENT)
    nodes = np.linspace(-half_width, half_width, quadrature_points)
    # The endpoints are negligible (e^-40), so plain sums are the trapezoidal rule.
    return nodes, -(nodes**2)


def _warn_if_underresolved(nodes: np.ndarray, t_max: float) -> None:
    """Warn if the nodes are too coarse for the peaks of exp(-cos(pi y) / (2 pi nu)).

    Those peaks are 1/sqrt(2 pi t) wide in z, whatever nu, so late times need finer nodes.
    """
    relative_spacing = (nodes[1] - nodes[0]) * math.sqrt(2.0 * math.pi * t_max)
    if relative_spacing > _MAX_RELATIVE_SPACING:
        needed = math.ceil((nodes[-1] - nodes[0]) * math.sqrt(2.0 * math.pi * t_max) / 0.5) + 1
        warnings.warn(
            f"{nodes.size} quadrature points under-resolve the Cole-Hopf integral up to "
            f"t = {t_max:g}; use at least {needed} for round-off accuracy",
            RuntimeWarning,
            stacklevel=5,  # the caller of exact_solution / exact_slope
        )


def _kernel_moments(
    x: np.ndarray, t: np.ndarray, nu: float, quadrature_points: int, with_slope: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """u and optionally u_x at flat arrays of points with t > 0, block by block."""
    nodes, log_gauss = _quadrature_nodes(nu, quadrature_points)
    _warn_if_underresolved(nodes, float(t.max()))
    u = np.empty_like(x)
    u_x = np.empty_like(x) if with_slope else None
    for start in range(0, x.size, _BLOCK_SIZE):
        block = slice(start, start + _BLOCK_SIZE)
        y = x[block, None] - np.sqrt(4.0 * nu * t[block, None]) * nodes
        angle = np.pi * y
        sin_y = np.sin(angle)
        exponent = log_gauss - np.cos(angle) / (2.0 * np.pi * nu)
        # Log-sum-exp shift: weights in (0, 1], the ratio of sums is unaffected.
        weights = np.exp(exponent - exponent.max(axis=1, keepdims=True))
        weights /= weights.sum(axis=1, keepdims=True)
        mean_sin = np.sum(weights * sin_y, axis=1)
        u[block] = -mean_sin
        if u_x is not None:
            # d/dx of the weighted mean: -pi <cos(pi y)> - Var[sin(pi y)] / (2 nu); the
            # variance is taken about the mean to avoid cancellation.
            mean_cos = np.sum(weights * np.cos(angle), axis=1)
            variance = np.sum(weights * (sin_y - mean_sin[:, None]) ** 2, axis=1)
            u_x[block] = -np.pi * mean_cos - variance / (2.0 * nu)
    return u, u_x


def _evaluate(
    x: np.ndarray, t: np.ndarray, nu: float, quadrature_points: int, with_slope: bool
) -> tuple[np.ndarray, np.ndarray]:
    if nu <= 0:
        raise ValueError(f"nu must be positive, got {nu}")
    x_grid, t_grid = np.broadcast_arrays(
        np.asarray(x, dtype=np.float64), np.asarray(t, dtype=np.float64)
    )
    if np.any(t_grid < 0):
        raise ValueError("t must be non-negative")
    x_flat, t_flat = x_grid.ravel(), t_grid.ravel()
    # t = 0 is the initial condition itself (the kernel would be a delta).
    u = -np.sin(np.pi * x_flat)
    u_x = -np.pi * np.cos(np.pi * x_flat)
    later = t_flat > 0
    if np.any(later):
        u_later, u_x_later = _kernel_moments(
            x_flat[later], t_flat[later], nu, quadrature_points, with_slope
        )
        u[later] = u_later
        if with_slope:
            u_x[later] = u_x_later
    return u.reshape(x_grid.shape), u_x.reshape(x_grid.shape)


def exact_solution(
    x: np.ndarray,
    t: np.ndarray,
    nu: float,
    quadrature_points: int = DEFAULT_QUADRATURE_POINTS,
) -> np.ndarray:
    """Exact u(x, t) by Cole-Hopf; x and t broadcast (x[None, :], t[:, None] -> (nt, nx))."""
    u, _ = _evaluate(x, t, nu, quadrature_points, with_slope=False)
    return u


def exact_slope(
    x: np.ndarray,
    t: np.ndarray,
    nu: float,
    quadrature_points: int = DEFAULT_QUADRATURE_POINTS,
) -> np.ndarray:
    """Exact u_x(x, t), from differentiating the quadrature formula analytically in x."""
    _, u_x = _evaluate(x, t, nu, quadrature_points, with_slope=True)
    return u_x


def reference_grid(
    nx: int = 256, nt: int = 100, nu: float = DEFAULT_NU
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x = linspace(-1, 1, nx), t = linspace(0, 1, nt) and the exact u of shape (nt, nx)."""
    x = np.linspace(-1.0, 1.0, nx)
    t = np.linspace(0.0, 1.0, nt)
    u = exact_solution(x[None, :], t[:, None], nu)
    return x, t, u


def pde_residual(inputs: Tensor, u: Tensor, nu: float) -> Tensor:
    """u_t + u u_x - nu u_xx at every point; inputs (N, 2) = (x, t) requires grad, u is (N, 1).

    One reverse pass gives the whole gradient (u_x, u_t), a second one u_xx: two passes, not
    one per derivative. Measured with bench/bench_residual.py (4 x 50 tanh, 10k points, one
    thread): 3.0 instead of 3.55 forward passes per residual, 15-30 % less time per residual
    and per training step depending on the load of the machine.
    """
    (gradient,) = torch.autograd.grad(u, inputs, grad_outputs=torch.ones_like(u), create_graph=True)
    u_x, u_t = gradient[:, 0:1], gradient[:, 1:2]
    u_xx = derivative(u_x, inputs, column=0)
    return u_t + u * u_x - nu * u_xx


@dataclasses.dataclass(frozen=True)
class ViscousBurgers:
    """The physics hooks of the Burgers experiment: its residual and its built-in conditions."""

    nu: float

    def residual(self, inputs: Tensor, u: Tensor) -> Tensor:
        return pde_residual(inputs, u, self.nu)

    def constrain(self, inputs: Tensor, raw: Tensor) -> Tensor:
        """-sin(pi x) + t (1 - x^2) N(x, t): u(x, 0) and u(+-1, t) hold for any network N."""
        x, t = inputs[:, 0:1], inputs[:, 1:2]
        return -torch.sin(math.pi * x) + t * (1.0 - x * x) * raw
