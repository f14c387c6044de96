"""Physics checks of the exact viscous Burgers solution and of the autograd PDE residual."""

import math

import numpy as np
import pytest
import torch
from scipy.optimize import minimize_scalar

from workflow_scripts.physics.burgers import (
    DEFAULT_NU,
    exact_slope,
    exact_solution,
    initial_condition,
    pde_residual,
    reference_grid,
)

NU_VALUES = [DEFAULT_NU, 0.025]


def relative_fd_residual(nu: float, x: np.ndarray, times: np.ndarray, dt: float) -> float:
    """max |u_t + u u_x - nu u_xx| / max(|u_t|, |u u_x|, |nu u_xx|) by 4th-order central FD.

    ``x`` is uniform; the residual is taken at x[2:-2] and at each of ``times``.
    """
    dx = x[1] - x[0]
    stencil_times = times[:, None] + np.arange(-2, 3) * dt
    u = exact_solution(x[None, None, :], stencil_times[:, :, None], nu)  # (nt, 5, nx)
    u_t = (u[:, 0] - 8 * u[:, 1] + 8 * u[:, 3] - u[:, 4])[:, 2:-2] / (12 * dt)
    now = u[:, 2]
    u_x = (now[:, :-4] - 8 * now[:, 1:-3] + 8 * now[:, 3:-1] - now[:, 4:]) / (12 * dx)
    u_xx = (
        -now[:, :-4] + 16 * now[:, 1:-3] - 30 * now[:, 2:-2] + 16 * now[:, 3:-1] - now[:, 4:]
    ) / (12 * dx**2)
    u_mid = now[:, 2:-2]
    residual = u_t + u_mid * u_x - nu * u_xx
    term_scale = max(np.abs(u_t).max(), np.abs(u_mid * u_x).max(), np.abs(nu * u_xx).max())
    return float(np.abs(residual).max() / term_scale)


@pytest.mark.parametrize("nu", NU_VALUES)
def test_initial_condition_is_met(nu: float) -> None:
    x = np.linspace(-1.0, 1.0, 257)
    np.testing.assert_array_equal(exact_solution(x, 0.0, nu), -np.sin(np.pi * x))
    # Just after t = 0 the quadrature branch must join the initial condition continuously.
    np.testing.assert_allclose(exact_solution(x, 1e-9, nu), -np.sin(np.pi * x), atol=1e-7)


@pytest.mark.parametrize("nu", NU_VALUES)
def test_boundary_values_vanish_and_solution_is_odd(nu: float) -> None:
    t = np.linspace(0.0, 1.0, 101)
    u_boundary = exact_solution(np.array([-1.0, 1.0])[None, :], t[:, None], nu)
    assert np.abs(u_boundary).max() < 1e-13
    x = np.linspace(0.0, 1.0, 64)
    u_right = exact_solution(x[None, :], t[:, None], nu)
    u_left = exact_solution(-x[None, :], t[:, None], nu)
    np.testing.assert_allclose(u_left, -u_right, rtol=0, atol=1e-13)


def test_initial_condition_helper_handles_numpy_and_torch() -> None:
    x = np.linspace(-1.0, 1.0, 11)
    np.testing.assert_allclose(initial_condition(x), -np.sin(np.pi * x), rtol=0, atol=0)
    x_torch = torch.from_numpy(x)
    result = initial_condition(x_torch)
    assert isinstance(result, torch.Tensor)
    np.testing.assert_allclose(result.numpy(), -np.sin(np.pi * x), rtol=0, atol=1e-15)


def test_pde_holds_over_whole_domain_for_moderate_viscosity() -> None:
    # Measured 3.9e-5 (pure O(dx^4) truncation); a 1% error in nu gives 1e-2.
    x = np.linspace(-1.0, 1.0, 401)
    times = np.linspace(0.05, 1.0, 8)
    assert relative_fd_residual(0.025, x, times, dt=1e-3) < 2e-4


def test_pde_holds_away_from_front_for_benchmark_viscosity() -> None:
    # Measured ~2e-8 on x in [0.2, 1]; a 1% error in nu gives 3e-4.
    x = np.linspace(0.2, 1.0, 321)
    times = np.linspace(0.05, 1.0, 8)
    assert relative_fd_residual(DEFAULT_NU, x, times, dt=1e-3) < 1e-6


def test_pde_holds_across_the_front_on_a_fine_grid() -> None:
    # Front width ~2 nu / |u| ~ 0.007, resolved by dx = 2e-4. Measured 6e-7; 1% nu error: 1e-2.
    x = np.linspace(-0.03, 0.03, 301)
    times = np.linspace(0.3, 1.0, 6)
    assert relative_fd_residual(DEFAULT_NU, x, times, dt=1e-3) < 1e-5


def test_steepest_slope_matches_basdevant_1986() -> None:
    # Basdevant et al. (1986): max |u_x(0, t)| = 152.00516 at t = 1.6037/pi for nu = 0.01/pi.
    search = minimize_scalar(
        lambda t: exact_slope(0.0, t, DEFAULT_NU),
        bounds=(0.4, 0.6),
        method="bounded",
        options={"xatol": 1e-9},
    )
    assert search.fun == pytest.approx(-152.00516, rel=1e-6)
    assert search.x * math.pi == pytest.approx(1.6037, abs=2e-4)


@pytest.mark.parametrize("nu", NU_VALUES)
def test_analytic_slope_matches_finite_differences(nu: float) -> None:
    x = np.linspace(-0.9, 0.9, 37)
    t = np.array([0.1, 0.51, 1.0])[:, None]
    dx = 1e-4  # well below the front width at nu = 0.01/pi
    u_x_fd = (
        exact_solution(x - 2 * dx, t, nu)
        - 8 * exact_solution(x - dx, t, nu)
        + 8 * exact_solution(x + dx, t, nu)
        - exact_solution(x + 2 * dx, t, nu)
    ) / (12 * dx)
    u_x = exact_slope(x, t, nu)
    np.testing.assert_allclose(u_x, u_x_fd, rtol=1e-7, atol=1e-7 * np.abs(u_x).max())


@pytest.mark.parametrize("nu", NU_VALUES)
def test_quadrature_is_converged_on_default_grid(nu: float) -> None:
    x, t, u = reference_grid(nu=nu)
    u_fine = exact_solution(x[None, :], t[:, None], nu, quadrature_points=601)
    # Measured ~3e-15 (round-off).
    assert np.abs(u - u_fine).max() < 1e-13
    # Too few nodes is visibly wrong, so the comparison above has teeth.
    with pytest.warns(RuntimeWarning, match="under-resolve"):
        u_coarse = exact_solution(x[None, :], t[:, None], nu, quadrature_points=31)
    assert np.abs(u_coarse - u_fine).max() > 1e-10


def test_reference_grid_layout() -> None:
    x, t, u = reference_grid()
    assert x.shape == (256,) and t.shape == (100,) and u.shape == (100, 256)
    assert x[0] == -1.0 and x[-1] == 1.0 and t[0] == 0.0 and t[-1] == 1.0
    assert u.dtype == np.float64 and np.isfinite(u).all()
    # At late times the benchmark has a near-shock at x = 0 with |u| ~ 0.8 on either side.
    assert u[-1, 100] > 0.5 and u[-1, 155] < -0.5


def test_autograd_residual_matches_closed_form() -> None:
    nu, a, b = 0.07, 2.3, 0.8
    generator = torch.Generator().manual_seed(0)
    inputs = torch.rand(200, 2, generator=generator, dtype=torch.float64) * 2 - 1
    inputs.requires_grad_(True)
    x, t = inputs[:, 0:1], inputs[:, 1:2]
    u = torch.sin(a * x) * torch.exp(-b * t)
    residual = pde_residual(inputs, u, nu)

    x_d, t_d = x.detach(), t.detach()
    u_d = torch.sin(a * x_d) * torch.exp(-b * t_d)
    u_x = a * torch.cos(a * x_d) * torch.exp(-b * t_d)
    expected = -b * u_d + u_d * u_x + nu * a**2 * u_d
    assert residual.shape == (200, 1)
    torch.testing.assert_close(residual.detach(), expected, rtol=0, atol=1e-12)


def test_autograd_residual_is_differentiable_for_training() -> None:
    scale = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
    inputs = torch.rand(50, 2, dtype=torch.float64).requires_grad_(True)
    u = scale * torch.sin(math.pi * inputs[:, 0:1]) * inputs[:, 1:2]
    loss = pde_residual(inputs, u, DEFAULT_NU).pow(2).mean()
    loss.backward()
    assert scale.grad is not None and torch.isfinite(scale.grad)
