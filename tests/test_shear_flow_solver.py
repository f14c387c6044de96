"""Physics checks of the shear_flow initial conditions and pseudo-spectral solver.

Each test would fail on a plausible bug: a wrong sign or centre in the initial condition, a
missing projection, aliasing or a wrong viscosity (energy budget), a wrong wavenumber scaling on
the anisotropic box (Taylor–Green rate), a low-order time stepper (convergence order), or
snapshot times that are not hit exactly.
"""

import math

import numpy as np
import pytest
import torch

from workflow_scripts.physics.shear_flow import (
    SpectralShearFlowSolver,
    enstrophy,
    initial_condition,
    kinetic_energy,
    simulate,
)
from workflow_scripts.physics.spectral import (
    divergence,
    gradient,
    project_divergence_free,
    vorticity,
)

LX, LY = 1.0, 2.0


@pytest.fixture(autouse=True)
def single_thread():
    """Tiny grids: one intra-op thread is faster and immune to a busy second core."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def batch_of(*conditions: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {name: torch.stack([c[name] for c in conditions]) for name in conditions[0]}


def projected(fields: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Same fields with a divergence-free velocity, so frame 0 already obeys the dynamics."""
    u, v = project_divergence_free(fields["velocity_x"], fields["velocity_y"])
    return {**fields, "velocity_x": u, "velocity_y": v}


def smooth_batch(nx: int = 32, ny: int = 64) -> dict[str, torch.Tensor]:
    """Wide shear layers, resolved at low Re on a small grid (tracer offset so its mean ≠ 0)."""
    fields = batch_of(initial_condition(nx, ny, 2, 2, 4.0), initial_condition(nx, ny, 2, 3, 2.0))
    fields["tracer"] = fields["tracer"] + 0.3
    return fields


# ---------------------------------------------------------------------------------------------
# Initial conditions
# ---------------------------------------------------------------------------------------------


def reference_initial_condition(nx, ny, n_shear, n_blobs, width):
    """The published formulas, written independently in NumPy with an explicit loop."""
    x = np.arange(nx)[:, None] / nx
    y = -1.0 + 2.0 * np.arange(ny)[None, :] / ny
    u = np.full((nx, ny), 0.5)
    v = np.zeros((nx, ny))
    for k in range(n_shear):
        y_k = -1.0 + 1.0 / n_shear + 2.0 * k / n_shear
        sign = -1.0 if k % 2 == 0 else 1.0
        u += sign * 0.5 * np.tanh(5 * n_shear * (y - y_k) / width)
        v += (
            0.1
            * np.sin(sign * n_blobs * np.pi * x)
            * np.exp(-25 * n_shear**2 * (y - y_k) ** 2 / width**2)
        )
    return u, v


@pytest.mark.parametrize(("n_shear", "n_blobs", "width"), [(2, 2, 1.0), (4, 5, 0.25), (4, 3, 2.0)])
def test_initial_condition_matches_formulas(n_shear, n_blobs, width):
    nx, ny = 24, 40
    fields = initial_condition(nx, ny, n_shear, n_blobs, width)
    u, v = reference_initial_condition(nx, ny, n_shear, n_blobs, width)
    assert set(fields) == {"tracer", "pressure", "velocity_x", "velocity_y"}
    assert all(f.shape == (nx, ny) and f.dtype == torch.float64 for f in fields.values())
    np.testing.assert_allclose(fields["velocity_x"].numpy(), u, rtol=0, atol=1e-14)
    np.testing.assert_allclose(fields["velocity_y"].numpy(), v, rtol=0, atol=1e-14)
    assert torch.equal(fields["tracer"], fields["velocity_x"])
    assert torch.count_nonzero(fields["pressure"]) == 0
    # Hand-checked values at the first layer centre y = −1 + 1/n_shear (sign −1): its tanh is
    # 0, its Gaussian 1, so u_y = 0.1 sin(−n_blobs π x); with two layers the second contributes
    # +½ tanh(−10/w) to u_x and a negligible Gaussian.
    j_centre = ny // (2 * n_shear)
    x = torch.arange(nx, dtype=torch.float64) / nx
    if n_shear == 2:
        u_centre = 0.5 - 0.5 * math.tanh(10 / width)
        torch.testing.assert_close(
            fields["velocity_x"][:, j_centre], torch.full((nx,), u_centre, dtype=torch.float64)
        )
        expected = 0.1 * torch.sin(-n_blobs * math.pi * x)
        torch.testing.assert_close(fields["velocity_y"][:, j_centre], expected, atol=1e-6, rtol=0)


def test_initial_condition_velocity_is_not_divergence_free():
    fields = initial_condition(32, 64, 2, 2, 1.0)
    assert divergence(fields["velocity_x"], fields["velocity_y"]).abs().max() > 0.1


# ---------------------------------------------------------------------------------------------
# Projection helper
# ---------------------------------------------------------------------------------------------


def test_projection_is_divergence_free_idempotent_and_differentiable():
    torch.manual_seed(0)
    u, v = torch.randn(2, 3, 16, 24, dtype=torch.float64).unbind(0)
    pu, pv = project_divergence_free(u, v)
    assert divergence(pu, pv).abs().max() < 1e-12
    ppu, ppv = project_divergence_free(pu, pv)
    torch.testing.assert_close((ppu, ppv), (pu, pv), atol=1e-13, rtol=0)
    # The mean flow is divergence-free and must survive.
    torch.testing.assert_close(pu.mean((-2, -1)), u.mean((-2, -1)), atol=1e-14, rtol=0)
    # Orthogonal projection: the removed part is orthogonal to what remains.
    removed = ((u - pu) * pu + (v - pv) * pv).sum()
    assert abs(removed) < 1e-10
    # Works in float32 and is differentiable.
    u32 = u[0].float().requires_grad_()
    out, _ = project_divergence_free(u32, v[0].float())
    out.square().sum().backward()
    assert u32.grad is not None and torch.isfinite(u32.grad).all()
    small = torch.randn(2, 4, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda w: project_divergence_free(w[0], w[1]), (small,))


# ---------------------------------------------------------------------------------------------
# Solver
# ---------------------------------------------------------------------------------------------


def test_frame_zero_raw_then_divergence_free():
    raw = batch_of(initial_condition(32, 64, 2, 2, 1.0), initial_condition(32, 64, 4, 3, 0.5))
    out = simulate(raw, torch.tensor([1e4, 5e5]), torch.tensor([1.0, 10.0]), 4, progress=False)
    for name in raw:
        assert out[name].shape == (2, 4, 32, 64)
        assert torch.equal(out[name][:, 0], raw[name])  # frame 0 untouched, as in the dataset
    u, v = out["velocity_x"], out["velocity_y"]
    assert divergence(u[:, 0], v[:, 0]).abs().max() > 0.1
    velocity_gradient = max(g.abs().max() for g in gradient(u[:, 1:]))
    assert divergence(u[:, 1:], v[:, 1:]).abs().max() < 1e-12 * velocity_gradient
    # Pressure is reported with zero mean after frame 0.
    assert out["pressure"][:, 1:].mean((-2, -1)).abs().max() < 1e-14
    assert out["pressure"][:, 1:].abs().max() > 1e-3


def test_means_conserved_even_when_under_resolved():
    fields = batch_of(initial_condition(32, 64, 4, 5, 0.25), initial_condition(32, 64, 2, 2, 1.0))
    fields["velocity_x"] = fields["velocity_x"] + 0.2
    fields["tracer"] = fields["tracer"] + 0.3
    out = simulate(fields, torch.tensor([5e5, 1e4]), torch.tensor([10.0, 0.1]), 8, progress=False)
    for name in ("velocity_x", "velocity_y", "tracer"):
        means = out[name].mean((-2, -1))
        torch.testing.assert_close(means, means[:, :1].expand_as(means), atol=1e-13, rtol=0)
    assert torch.isfinite(out["velocity_x"]).all()
    energy = kinetic_energy(out["velocity_x"][:, 1:], out["velocity_y"][:, 1:])
    assert (energy.diff(dim=1) <= 1e-9).all()  # no spurious energy growth at Re = 5e5


def test_inviscid_limit_conserves_energy_enstrophy_and_tracer_variance():
    """Dealiased Galerkin truncation conserves all three; aliased products break it by ≳ 1e-3."""
    fields = projected(
        batch_of(initial_condition(32, 64, 4, 5, 0.25), initial_condition(32, 64, 2, 3, 0.5))
    )
    out = simulate(fields, torch.tensor([1e12, 1e12]), torch.tensor([1.0, 1.0]), 11, progress=False)
    u, v, s = out["velocity_x"], out["velocity_y"], out["tracer"]
    for invariant in (kinetic_energy(u, v), enstrophy(u, v), s.square().mean((-2, -1))):
        relative_change = (invariant[:, -1] - invariant[:, 0]).abs() / invariant[:, 0]
        assert (relative_change < 1e-5).all(), relative_change


def trapezoid(values: torch.Tensor, dt: float) -> torch.Tensor:
    return dt * (values[..., 1:] + values[..., :-1]).sum(-1) / 2


def test_energy_and_tracer_variance_budgets():
    """E(T) − E(0) = −∫ 2ν·enstrophy dt and ½⟨s²⟩(T) − ½⟨s²⟩(0) = −∫ D⟨|∇s|²⟩ dt."""
    reynolds, schmidt = torch.tensor([500.0, 2000.0]), torch.tensor([1.0, 0.5])
    snapshot_dt = 0.01
    out = simulate(projected(smooth_batch()), reynolds, schmidt, 61, snapshot_dt, progress=False)
    u, v, s = out["velocity_x"], out["velocity_y"], out["tracer"]
    viscosity = (1 / reynolds)[:, None]
    energy = kinetic_energy(u, v)
    energy_change = energy[:, -1] - energy[:, 0]
    dissipated = trapezoid(2 * viscosity * enstrophy(u, v), snapshot_dt)
    torch.testing.assert_close(energy_change, -dissipated, rtol=2e-4, atol=0)
    assert (energy_change < -1e-4).all()  # the balance is not trivially 0 = 0

    diffusivity = viscosity / schmidt[:, None]
    variance = 0.5 * s.square().mean((-2, -1))
    sx, sy = gradient(s)
    destroyed = trapezoid(diffusivity * (sx.square() + sy.square()).mean((-2, -1)), snapshot_dt)
    torch.testing.assert_close(variance[:, -1] - variance[:, 0], -destroyed, rtol=2e-4, atol=0)


def test_taylor_green_decays_at_exact_rate_with_exact_pressure():
    nx, ny, amplitude, reynolds = 32, 48, 0.7, 100.0
    a, b = 2 * math.pi * 2 / LX, 2 * math.pi * 3 / LY  # different wavenumbers along x and y
    x = torch.arange(nx, dtype=torch.float64)[:, None] * LX / nx
    y = torch.arange(ny, dtype=torch.float64)[None, :] * LY / ny - LY / 2
    u0 = amplitude * torch.sin(a * x) * torch.cos(b * y)
    v0 = -amplitude * (a / b) * torch.cos(a * x) * torch.sin(b * y)
    fields = {"velocity_x": u0[None], "velocity_y": v0[None], "tracer": torch.zeros(1, nx, ny)}
    out = simulate(fields, torch.tensor([reynolds]), torch.tensor([1.0]), 6, 0.2, progress=False)

    times = 0.2 * torch.arange(6, dtype=torch.float64)
    decay = torch.exp(-(a**2 + b**2) * times / reynolds)  # velocity ∝ e^{−ν|k|²t}
    torch.testing.assert_close(out["velocity_x"][0], u0 * decay[:, None, None], atol=1e-12, rtol=0)
    torch.testing.assert_close(out["velocity_y"][0], v0 * decay[:, None, None], atol=1e-12, rtol=0)
    energy = kinetic_energy(out["velocity_x"][0], out["velocity_y"][0])
    torch.testing.assert_close(energy, energy[0] * decay**2, atol=0, rtol=1e-12)
    assert decay[-1] ** 2 < 0.1  # a real decay, not a near-constant
    # Steady Euler balance (u·∇)u = −∇p gives p = A²/4 (cos 2ax + (a/b)² cos 2by).
    pressure = amplitude**2 / 4 * (torch.cos(2 * a * x) + (a / b) ** 2 * torch.cos(2 * b * y))
    expected = pressure * decay[1:, None, None] ** 2
    torch.testing.assert_close(out["pressure"][0, 1:], expected, atol=1e-12, rtol=0)


def test_tracer_translated_by_mean_flow_and_diffused_exactly():
    nx, ny, diffusivity = 16, 32, 1e-2
    kx, ky = 2 * math.pi * 1 / LX, 2 * math.pi * 2 / LY
    drift = (0.3, -0.2)
    x = torch.arange(nx, dtype=torch.float64)[:, None] * LX / nx
    y = torch.arange(ny, dtype=torch.float64)[None, :] * LY / ny - LY / 2
    fields = {
        "velocity_x": torch.full((1, nx, ny), drift[0], dtype=torch.float64),
        "velocity_y": torch.full((1, nx, ny), drift[1], dtype=torch.float64),
        "tracer": torch.sin(kx * x + ky * y)[None],
    }
    out = simulate(fields, torch.tensor([1.0]), torch.tensor([1 / diffusivity]), 6, progress=False)
    for n in range(6):
        t = 0.1 * n
        phase = kx * (x - drift[0] * t) + ky * (y - drift[1] * t)
        exact = torch.sin(phase) * math.exp(-diffusivity * (kx**2 + ky**2) * t)
        torch.testing.assert_close(out["tracer"][0, n], exact, atol=1e-6, rtol=0)


def test_fixed_step_convergence_is_fourth_order():
    fields = projected(smooth_batch())
    reynolds, schmidt = torch.tensor([1000.0, 1000.0]), torch.tensor([1.0, 2.0])

    def final_state(dt: float) -> torch.Tensor:
        out = simulate(fields, reynolds, schmidt, 2, 0.4, dt=dt, progress=False)
        return torch.stack([out[name][:, -1] for name in ("velocity_x", "velocity_y", "tracer")])

    solutions = [final_state(0.4 / steps) for steps in (20, 40, 80)]
    coarse_error = (solutions[0] - solutions[1]).abs().max()
    fine_error = (solutions[1] - solutions[2]).abs().max()
    ratio = float(coarse_error / fine_error)
    assert coarse_error > 1e-9  # above round-off, so the ratio means something
    assert 2**4 * 0.75 < ratio < 2**4 * 1.35, f"error ratio {ratio:.2f}, expected ≈ 16 (order 4)"


def test_adaptive_steps_respect_cfl_and_hit_snapshot_times():
    fields = projected(smooth_batch())
    reynolds, schmidt = torch.tensor([1000.0, 3000.0]), torch.tensor([1.0, 1.0])
    solver = SpectralShearFlowSolver(32, 64, reynolds, schmidt, cfl=0.3)
    solver.set_state(fields)
    solver.advance(0.3)
    solver.advance(0.2)
    assert solver.max_cfl_seen <= 0.3 + 1e-12
    assert solver.n_steps > 2  # the CFL bound, not the interval, set the step
    reference = SpectralShearFlowSolver(32, 64, reynolds, schmidt)
    reference.set_state(fields)
    reference.advance(0.5, dt=0.5 / 200)
    adaptive, exact = solver.fields(), reference.fields()
    # Time-stepping error at this CFL is ≈ 1e-6; ending a fraction of a step early or late
    # would show as ≈ dt·|∂u/∂t| ≳ 1e-3.
    for name in ("velocity_x", "velocity_y", "tracer", "pressure"):
        torch.testing.assert_close(adaptive[name], exact[name], atol=2e-5, rtol=0)


def test_two_thirds_dealiasing_agrees_with_padding_when_resolved():
    fields = projected(smooth_batch(48, 96))
    kwargs = {"n_snapshots": 3, "snapshot_dt": 0.1, "progress": False}
    reynolds, schmidt = torch.tensor([500.0, 500.0]), torch.tensor([1.0, 1.0])
    padded = simulate(fields, reynolds, schmidt, dealias="3/2", **kwargs)
    truncated = simulate(fields, reynolds, schmidt, dealias="2/3", **kwargs)
    for name in ("velocity_x", "tracer"):
        torch.testing.assert_close(padded[name][:, -1], truncated[name][:, -1], atol=1e-4, rtol=0)


def test_batched_trajectories_match_single_runs_and_float32_runs():
    fields = smooth_batch()
    reynolds, schmidt = torch.tensor([1e4, 5e4]), torch.tensor([0.5, 5.0])
    both = simulate(fields, reynolds, schmidt, 3, dt=0.01, progress=False)
    second = simulate(
        {k: f[1:] for k, f in fields.items()}, reynolds[1:], schmidt[1:], 3, dt=0.01, progress=False
    )
    torch.testing.assert_close(both["tracer"][1:], second["tracer"], atol=1e-12, rtol=0)
    single = simulate(
        {k: f.float() for k, f in fields.items()}, reynolds, schmidt, 3, dt=0.01, progress=False
    )
    assert single["velocity_x"].dtype == torch.float32
    torch.testing.assert_close(single["velocity_x"].double(), both["velocity_x"], atol=1e-4, rtol=0)
    omega = vorticity(both["velocity_x"][:, -1], both["velocity_y"][:, -1])
    assert omega.abs().max() > 0.1
