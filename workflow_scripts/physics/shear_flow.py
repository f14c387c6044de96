"""The Well's ``shear_flow`` equations: initial conditions and a batched pseudo-spectral solver.

2D incompressible Navier–Stokes with a passive tracer ``s`` on the doubly periodic box
x ∈ [0, Lx) (first array axis), y ∈ [-Ly/2, Ly/2) (second axis), Lx = 1, Ly = 2:

    ∂u/∂t + ∇p − ν∇²u = −(u·∇)u,   ∂s/∂t − D∇²s = −u·∇s,   ∇·u = 0,   mean(p) = 0,

with ν = 1/Re and D = ν/Sc.

The solver advances the vorticity ω = ∂x u_y − ∂y u_x and the tracer in Fourier space, plus the
(conserved) mean velocity. Velocity comes back from the stream function, so it is divergence-free
to round-off by construction; building ω from a raw velocity field is exactly the Leray
projection of that field. Scheme: 4th-order Runge–Kutta with an integrating factor (diffusion and
the optional hyperviscosity are integrated exactly, advection explicitly), quadratic products
dealiased by the 3/2 padding rule (default, as Dedalus did for the dataset) or the 2/3 truncation
rule, and a time step that keeps the advective CFL number below a bound while landing exactly on
the snapshot times. Pressure is solved from ∇²p = −∇·((u·∇)u) (zero mean) at snapshots only.

The spectral operators it shares with the metrics, the FNO and the physics penalty (wavenumbers,
gradient, divergence, vorticity, the Leray projection, 3/2 padding) are in ``spectral.py``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Literal

import torch
from torch import Tensor
from tqdm.auto import tqdm

from workflow_scripts.physics.fields import FIELD_NAMES
from workflow_scripts.physics.spectral import (
    DEFAULT_LENGTHS,
    grid,
    keep_modes,
    padded_size,
    vorticity,
    wavenumbers,
)

Dealias = Literal["3/2", "2/3"]


# ---------------------------------------------------------------------------------------------
# Initial conditions
# ---------------------------------------------------------------------------------------------


def initial_condition(
    nx: int,
    ny: int,
    n_shear: int,
    n_blobs: int,
    width: float,
    *,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> dict[str, Tensor]:
    """The dataset's initial fields on an (nx, ny) grid, each of shape (nx, ny).

    Shear layers centred at y_k = −1 + 1/n_shear + 2k/n_shear with alternating signs
    (−1 for even k), tanh profiles in u_x and Gaussian-windowed sine perturbations in u_y; the
    tracer equals u_x, the pressure is zero, and the velocity is not yet divergence-free.
    """
    x, y = grid(nx, ny, dtype=dtype, device=device)
    velocity_x = torch.full((nx, ny), 0.5, dtype=dtype, device=device)
    velocity_y = torch.zeros((nx, ny), dtype=dtype, device=device)
    for k in range(n_shear):
        centre = -1.0 + 1.0 / n_shear + 2.0 * k / n_shear
        sign = -1.0 if k % 2 == 0 else 1.0
        offset = y - centre
        velocity_x = velocity_x + sign * 0.5 * torch.tanh(5.0 * n_shear * offset / width)
        envelope = torch.exp(-25.0 * n_shear**2 * offset**2 / width**2)
        velocity_y = velocity_y + 0.1 * torch.sin(sign * n_blobs * math.pi * x) * envelope
    return {
        "tracer": velocity_x.clone(),
        "pressure": torch.zeros((nx, ny), dtype=dtype, device=device),
        "velocity_x": velocity_x,
        "velocity_y": velocity_y,
    }


# ---------------------------------------------------------------------------------------------
# Flow diagnostics
# ---------------------------------------------------------------------------------------------


def kinetic_energy(velocity_x: Tensor, velocity_y: Tensor) -> Tensor:
    """Domain-averaged kinetic energy ½⟨u_x² + u_y²⟩ over the last two axes."""
    return 0.5 * (velocity_x.square() + velocity_y.square()).mean(dim=(-2, -1))


def enstrophy(
    velocity_x: Tensor, velocity_y: Tensor, lengths: tuple[float, float] = DEFAULT_LENGTHS
) -> Tensor:
    """Domain-averaged enstrophy ½⟨ω²⟩; for divergence-free flow dE/dt = −2ν·enstrophy."""
    return 0.5 * vorticity(velocity_x, velocity_y, lengths).square().mean(dim=(-2, -1))


# ---------------------------------------------------------------------------------------------
# Solver
# ---------------------------------------------------------------------------------------------


def _as_batch_vector(value: Tensor | float, batch: int, dtype: torch.dtype, device) -> Tensor:
    vector = torch.as_tensor(value, dtype=dtype, device=device).reshape(-1)
    if vector.numel() == 1:
        vector = vector.expand(batch)
    if vector.numel() != batch:
        raise ValueError(f"expected {batch} parameter values, got {vector.numel()}")
    return vector.clone()


class SpectralShearFlowSolver:
    """Batched pseudo-spectral solver for B trajectories on one (nx, ny) grid.

    State: Fourier coefficients of vorticity and tracer (B, 2, Mx, My//2+1) on the compute grid
    (Mx, My) (= 3/2 (nx, ny) with padding dealiasing, = (nx, ny) with 2/3 truncation), with
    ``norm="forward"`` so coefficients do not depend on the grid size, plus the mean velocity
    (B, 2). Each trajectory has its own Re and Sc; they share one time step (the most restrictive).

    Stability: advection is explicit, so the CFL number dt·(max|u_x|/dx + max|u_y|/dy), with
    dx = Lx/nx and dy = Ly/ny, is kept at or below ``cfl``. RK4's stability boundary on the
    imaginary axis is 2√2; the 3/2 rule keeps |k| up to π/dx, so cfl ≤ 2√2/π ≈ 0.9 is stable by
    the linear bound (≈ 1.35 with the 2/3 rule, which keeps |k| ≤ (2/3)π/dx). The bound is
    conservative: Re = 5e5 runs on 64×128 stayed stable at cfl = 1.5 in both modes. The default
    0.5 is for accuracy. Dealiased Galerkin truncation conserves energy, enstrophy and tracer
    variance of the inviscid part, so under-resolved runs (Re = 5e5 on 64×128) stay bounded,
    with Gibbs-like noise near the cutoff (tracer overshoots to ≈ 1.5–2 at Sc = 10).
    ``hyperviscosity`` (a damping rate at the largest retained wavenumber, ∝ |k|^(2·order))
    smooths that when wanted (a rate of 10 keeps |s| ≤ 1 there); it is off by default.
    """

    def __init__(
        self,
        nx: int,
        ny: int,
        reynolds: Tensor | float,
        schmidt: Tensor | float,
        *,
        lengths: tuple[float, float] = DEFAULT_LENGTHS,
        dealias: Dealias = "3/2",
        cfl: float = 0.5,
        max_dt: float | None = None,
        hyperviscosity: float = 0.0,
        hyperviscosity_order: int = 4,
        dtype: torch.dtype = torch.float64,
        device: torch.device | str | None = None,
    ) -> None:
        if dealias not in ("3/2", "2/3"):
            raise ValueError(f"dealias must be '3/2' or '2/3', got {dealias!r}")
        self.nx, self.ny = nx, ny
        self.lengths = lengths
        self.dealias = dealias
        self.cfl = cfl
        self.max_dt = max_dt
        self.dtype = dtype
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self.complex_dtype = torch.complex128 if dtype == torch.float64 else torch.complex64

        reynolds_t = torch.as_tensor(reynolds, dtype=dtype, device=self.device).reshape(-1)
        self.batch = reynolds_t.numel()
        self.reynolds = _as_batch_vector(reynolds_t, self.batch, dtype, self.device)
        self.schmidt = _as_batch_vector(schmidt, self.batch, dtype, self.device)
        self.viscosity = 1.0 / self.reynolds
        self.diffusivity = self.viscosity / self.schmidt

        if dealias == "3/2":
            # Keep every mode but the Nyquist one: |m| ≤ n/2 − 1, on a grid of ≥ 3·K + 1 points.
            self.max_mode = ((nx - 1) // 2, (ny - 1) // 2)
            self.mx, self.my = padded_size(nx), padded_size(ny)
        else:
            self.max_mode = ((nx - 1) // 3, (ny - 1) // 3)
            self.mx, self.my = nx, ny
        self.dx, self.dy = lengths[0] / nx, lengths[1] / ny

        kx, ky = wavenumbers(self.mx, self.my, lengths, dtype=dtype, device=self.device)
        mode_x = torch.fft.fftfreq(self.mx, d=1.0 / self.mx, device=self.device).abs()
        mode_y = torch.fft.rfftfreq(self.my, d=1.0 / self.my, device=self.device)
        keep = (mode_x[:, None] <= self.max_mode[0]) & (mode_y[None, :] <= self.max_mode[1])
        self.keep = keep.to(dtype)
        self._negative_keep = -self.keep[..., None]  # scales view_as_real spectra
        self.kx, self.ky = kx * self.keep, ky * self.keep
        k_squared = self.kx.square() + self.ky.square()
        self.k_squared = k_squared
        self.inverse_k_squared = torch.where(k_squared > 0, 1.0 / k_squared.clamp_min(1e-30), 0.0)

        # Spectral operators mapping (ω̂, ŝ) to the six fields the advection term needs:
        # [u_x, u_y] from the stream function (ψ̂ = ω̂/|k|²), then [∂xω, ∂xs] and [∂yω, ∂ys].
        ikx = 1j * self.kx.to(self.complex_dtype)
        iky = 1j * self.ky.to(self.complex_dtype)
        inv = self.inverse_k_squared.to(self.complex_dtype)
        self._velocity_ops = torch.stack([iky * inv, -ikx * inv])  # (2, Mx, Myh) acting on ω̂
        self._gradient_ops = torch.stack([ikx, iky])  # (2, Mx, Myh)

        # Linear operator per trajectory and field: −ν|k|² for ω, −D|k|² for s, plus optional
        # hyperviscosity normalised to a damping rate at the largest retained wavenumber.
        diffusion = torch.stack([self.viscosity, self.diffusivity], dim=1)[:, :, None, None]
        linear = -diffusion * k_squared
        if hyperviscosity > 0:
            k_max_squared = k_squared.max()
            linear = linear - hyperviscosity * (k_squared / k_max_squared) ** hyperviscosity_order
        self.linear = linear  # (B, 2, Mx, Myh), real
        self._cached_dt: float | None = None
        self._half_factor: Tensor | None = None

        self.spectrum: Tensor | None = None  # (B, 2, Mx, Myh) complex: ω̂, ŝ
        self.mean_velocity: Tensor | None = None  # (B, 2)
        self.time = 0.0
        self.n_steps = 0
        self.max_cfl_seen = 0.0
        self.last_dt = float("nan")

    # ---- layout conversions -----------------------------------------------------------------

    def _to_compute(self, spectrum_n: Tensor) -> Tensor:
        """Embed (nx, ny) rfft2 coefficients into the compute layout, keeping modes |m| ≤ K."""
        return keep_modes(spectrum_n, self.mx, self.my, *self.max_mode)

    def _to_output(self, spectrum_m: Tensor) -> Tensor:
        """Inverse of :meth:`_to_compute`: coefficients on the (nx, ny) rfft2 layout."""
        return keep_modes(spectrum_m, self.nx, self.ny, *self.max_mode)

    # ---- state ------------------------------------------------------------------------------

    def set_state(self, fields: Mapping[str, Tensor], time: float = 0.0) -> None:
        """Load velocity and tracer, each (B, nx, ny); the velocity is Leray-projected here."""
        velocity = torch.stack([fields["velocity_x"], fields["velocity_y"]], dim=1)
        velocity = velocity.to(device=self.device, dtype=self.dtype)
        tracer = fields["tracer"].to(device=self.device, dtype=self.dtype)
        if velocity.shape != (self.batch, 2, self.nx, self.ny):
            raise ValueError(f"expected fields of shape {(self.batch, self.nx, self.ny)}")
        velocity_hat = self._to_compute(torch.fft.rfft2(velocity, norm="forward"))
        tracer_hat = self._to_compute(torch.fft.rfft2(tracer, norm="forward"))
        # ω̂ = i kx v̂ − i ky û discards the gradient part of u: this is the projection.
        ikx, iky = self._gradient_ops
        omega_hat = ikx * velocity_hat[:, 1] - iky * velocity_hat[:, 0]
        self.spectrum = torch.stack([omega_hat, tracer_hat], dim=1).contiguous()
        self.mean_velocity = velocity_hat[:, :, 0, 0].real.clone()
        self.time = time

    def fields(self) -> dict[str, Tensor]:
        """Current tracer, pressure and velocity on the (nx, ny) grid, each (B, nx, ny)."""
        if self.spectrum is None or self.mean_velocity is None:
            raise RuntimeError("call set_state first")
        omega_hat = self.spectrum[:, 0]
        velocity_hat = omega_hat[:, None] * self._velocity_ops  # (B, 2, Mx, Myh)
        velocity_hat[:, :, 0, 0] += self.mean_velocity
        pressure_hat = self._pressure_hat(velocity_hat)
        stacked = torch.stack(
            [self.spectrum[:, 1], pressure_hat, velocity_hat[:, 0], velocity_hat[:, 1]], dim=1
        )
        physical = torch.fft.irfft2(self._to_output(stacked), s=(self.nx, self.ny), norm="forward")
        return {name: physical[:, i] for i, name in enumerate(FIELD_NAMES)}

    def _pressure_hat(self, velocity_hat: Tensor) -> Tensor:
        """Zero-mean p̂ from ∇²p = −∇·((u·∇)u) = −(∂xu_x² + 2 ∂yu_x ∂xu_y + ∂yu_y²)."""
        gradients_hat = velocity_hat[:, :, None] * self._gradient_ops  # (B, 2[u], 2[d], ...)
        g = torch.fft.irfft2(gradients_hat, s=(self.mx, self.my), norm="forward")
        source = g[:, 0, 0].square() + 2 * g[:, 0, 1] * g[:, 1, 0] + g[:, 1, 1].square()
        source_hat = torch.fft.rfft2(source, norm="forward") * self.keep
        return source_hat * self.inverse_k_squared

    # ---- time stepping ----------------------------------------------------------------------

    def _advection(self, spectrum: Tensor, want_speed: bool = False) -> tuple[Tensor, float]:
        """−(u·∇)(ω, s) in the compute layout, dealiased; optionally the CFL speed bound.

        One irfft2 of six fields and one rfft2 of two fields.
        """
        batch = spectrum.shape[0]
        stacked = torch.empty(
            batch, 6, self.mx, self.my // 2 + 1, dtype=self.complex_dtype, device=self.device
        )
        omega_hat = spectrum[:, 0:1]
        torch.mul(omega_hat, self._velocity_ops, out=stacked[:, 0:2])
        torch.mul(spectrum, self._gradient_ops[0], out=stacked[:, 2:4])
        torch.mul(spectrum, self._gradient_ops[1], out=stacked[:, 4:6])
        stacked[:, 0:2, 0, 0] += self.mean_velocity
        physical = torch.fft.irfft2(stacked, s=(self.mx, self.my), norm="forward")
        velocity = physical[:, 0:2]
        advection = physical[:, 2:4] * velocity[:, 0:1]
        advection.addcmul_(physical[:, 4:6], velocity[:, 1:2])
        speed = 0.0
        if want_speed:
            peak = velocity.abs().amax(dim=(0, 2, 3))
            speed = float(peak[0] / self.dx + peak[1] / self.dy)
        advection_hat = torch.fft.rfft2(advection, norm="forward")
        # Truncate to the retained modes and flip the sign (the term sits on the right-hand side).
        torch.view_as_real(advection_hat).mul_(self._negative_keep)
        return advection_hat, speed

    def _half_step_factor(self, dt: float) -> Tensor:
        """e^{L dt/2}, shaped to scale view_as_real spectra; cached while dt does not change."""
        if self._cached_dt != dt or self._half_factor is None:
            self._half_factor = torch.exp(self.linear * (0.5 * dt))[..., None]
            self._cached_dt = dt
        return self._half_factor

    def _rk4_step(self, dt: float, first_stage: Tensor | None = None) -> None:
        """One integrating-factor RK4 step of size dt (diffusion exact, advection 4th order)."""
        spectrum = self.spectrum
        k1 = self._advection(spectrum)[0] if first_stage is None else first_stage
        half = self._half_step_factor(dt)
        real = torch.view_as_real
        x = real(spectrum)
        ex = x * half  # e^{L dt/2} X
        stage = real(k1).mul(0.5 * dt).add_(x).mul_(half)
        k2 = self._advection(torch.view_as_complex(stage))[0]
        stage = real(k2).mul(0.5 * dt).add_(ex)
        k3 = self._advection(torch.view_as_complex(stage))[0]
        stage = real(k3).mul(dt).add_(ex).mul_(half)
        k4 = self._advection(torch.view_as_complex(stage))[0]
        # X_{n+1} = E(E(X + dt/6 k1) + dt/3 (k2 + k3)) + dt/6 k4, with E = e^{L dt/2}
        new = real(k1).mul(dt / 6).add_(x).mul_(half)
        new.add_(real(k2).add_(real(k3)), alpha=dt / 3).mul_(half).add_(real(k4), alpha=dt / 6)
        self.spectrum = torch.view_as_complex(new)
        self.n_steps += 1
        self.last_dt = dt

    def advance(self, duration: float, dt: float | None = None) -> None:
        """Advance by exactly ``duration``.

        With ``dt`` given, take fixed steps (``duration/dt`` must be an integer). Otherwise plan
        n = ceil(duration/dt_cfl) equal steps and re-plan the remainder whenever the CFL number
        measured at the start of a step (from the velocities RK4 computes anyway) exceeds ``cfl``.
        """
        if self.spectrum is None:
            raise RuntimeError("call set_state first")
        if dt is not None:
            n_fixed = round(duration / dt)
            if n_fixed < 1 or abs(n_fixed * dt - duration) > 1e-9 * duration:
                raise ValueError(f"duration {duration} is not a multiple of dt {dt}")
            for _ in range(n_fixed):
                k1, speed = self._advection(self.spectrum, want_speed=True)
                self.max_cfl_seen = max(self.max_cfl_seen, speed * dt)
                self._rk4_step(dt, first_stage=k1)
            self.time += duration
            return

        remaining = duration
        steps_left = 0
        step_dt = 0.0
        while steps_left > 0 or remaining > 1e-12 * duration:
            k1, speed = self._advection(self.spectrum, want_speed=True)
            if steps_left == 0 or speed * step_dt > self.cfl:
                dt_limit = self.cfl / speed if speed > 0 else remaining
                if self.max_dt is not None:
                    dt_limit = min(dt_limit, self.max_dt)
                steps_left = max(1, math.ceil(remaining / dt_limit))
                step_dt = remaining / steps_left
            self.max_cfl_seen = max(self.max_cfl_seen, speed * step_dt)
            self._rk4_step(step_dt, first_stage=k1)
            steps_left -= 1
            remaining = remaining - step_dt if steps_left > 0 else 0.0
        self.time += duration


def simulate(
    initial: Mapping[str, Tensor],
    reynolds: Tensor | float,
    schmidt: Tensor | float,
    n_snapshots: int,
    snapshot_dt: float = 0.1,
    *,
    cfl: float = 0.5,
    dt: float | None = None,
    dealias: Dealias = "3/2",
    hyperviscosity: float = 0.0,
    lengths: tuple[float, float] = DEFAULT_LENGTHS,
    progress: bool = True,
) -> dict[str, Tensor]:
    """Run B trajectories and return each field as (B, n_snapshots, nx, ny).

    ``initial`` holds ``velocity_x``, ``velocity_y``, ``tracer`` (and optionally ``pressure``)
    of shape (B, nx, ny); its dtype and device are the solver's. Frame 0 is the raw initial
    condition (velocity not projected, pressure as given or zero), as in the dataset; frame n is
    at time n·snapshot_dt. ``dt`` switches to fixed steps (for convergence checks).
    """
    velocity_x = initial["velocity_x"]
    batch, nx, ny = velocity_x.shape
    solver = SpectralShearFlowSolver(
        nx,
        ny,
        reynolds,
        schmidt,
        lengths=lengths,
        dealias=dealias,
        cfl=cfl,
        max_dt=snapshot_dt,
        hyperviscosity=hyperviscosity,
        dtype=velocity_x.dtype,
        device=velocity_x.device,
    )
    if solver.batch != batch:
        raise ValueError(f"{batch} trajectories but {solver.batch} Reynolds numbers")
    solver.set_state(initial)

    out = {name: velocity_x.new_empty(batch, n_snapshots, nx, ny) for name in FIELD_NAMES}
    for name in FIELD_NAMES:
        raw = initial.get(name)
        out[name][:, 0] = raw if raw is not None else 0.0
    bar = tqdm(range(1, n_snapshots), disable=not progress, desc="shear_flow", unit="snap")
    for frame in bar:
        solver.advance(snapshot_dt, dt=dt)
        solver.time = frame * snapshot_dt  # no accumulated round-off in the clock
        for name, value in solver.fields().items():
            out[name][:, frame] = value
        if progress:
            bar.set_postfix(steps=solver.n_steps, dt=f"{solver.last_dt:.2e}", refresh=False)
    bar.close()
    return out
