"""Soft physics penalty of the ``unet_physloss`` shear-flow variant.

Two residuals of a one-step forecast, evaluated in physical units (the z-scored inputs and
prediction are de-normalised first) with spectral derivatives on the periodic grid:

* ``divergence``: incompressibility of the predicted velocity, ∇·u_{n+1}.
* ``tracer``: the advection–diffusion equation of the passive tracer between the last input frame
  n and the prediction n+1, centred at the midpoint (second order in Δt, like Crank–Nicolson):

      R = (s_{n+1} − s_n)/Δt + ū·∇s̄ − D∇²s̄,   ū = (u_n + u_{n+1})/2,  s̄ = (s_n + s_{n+1})/2,

  with D = ν/Sc = 1/(Re·Sc) per sample. The product ū·∇s̄ is dealiased by the 3/2 rule (formed
  on a 3/2-padded grid, truncated back to the modes |m| ≤ n/2 − 1), as in the solver and in The
  Well's Dedalus runs. Why: a pointwise product of fields with energy near the grid cutoff aliases
  into the resolved modes; on 32×64 solver output (Re 1e4, sharp initial layers) that aliasing
  left a residual of the *true* next frame of ≈ 15 % of the mean square of its terms, against
  ≈ 0.1 % dealiased (a 4th-order Adams–Moulton time stencil changed nothing: the floor was
  spatial aliasing, not the Δt = 0.1 step).

Normalisation (``normalise=True``, default), chosen so that both terms sit on the scale of the
z-scored data MSE and loss weights of O(0.1–1) are reasonable:

* divergence: per sample ⟨(∇·u)²⟩ / ⟨|∇u|²⟩, the reference being the mean square of all four
  velocity-gradient components of the same prediction, detached. A relative residual:
  dimensionless, ≤ 2, ≈ 0.5 for noise, ≈ 0 for an incompressible field, whatever the flow's
  amplitude, grid or Re; detaching means it cannot be lowered by inflating the gradients. Why
  the whole gradient, shear included: ⟨(∂x u_x)² + (∂y u_y)²⟩ alone is small in these shear
  flows, and the penalty's gradient scales like 1/reference; with that smaller reference,
  training became unstable at weight 0.1 (gradient norms 30–80 instead of < 1).
* tracer: ⟨R²⟩·(Δt/σ_s)², with σ_s the tracer's std (from ``std``): R·Δt/σ_s is the residual
  expressed as an error of the z-scored tracer accumulated over one step, so an error e in the
  predicted (z-scored) tracer contributes about e² through ∂t s plus its advection, more at
  small scales. A fixed scale (not the prediction's own terms): self-normalising by
  ⟨a²⟩ + ⟨b²⟩ + ⟨c²⟩ (a = ∂t s, b = ū·∇s̄, c = −D∇²s̄) was tried and stays ≈ 1 for any
  prediction whose error exceeds the true one-step change, i.e. ~100× the data MSE late in
  training, so that weight 0.1 already dominated the gradient.

Observed on 32×64 solver data (Re 1e4): exact next frame ≈ 1e-12 and 5e-5, noise ≈ 0.5 and 2.5,
a U-Net after 300 steps ≈ 0.01 and 0.01–0.03 (its data MSE ≈ 0.01). Means are over the grid,
then over the batch. ``normalise=False`` returns the raw mean squares in physical units
((1/time)² for both).

The Laplacian uses the same wavenumbers as ``spectral.gradient`` (Nyquist modes zeroed).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from workflow_scripts.physics.fields import FIELD_NAMES
from workflow_scripts.physics.spectral import (
    DEFAULT_LENGTHS,
    divergence,
    gradient,
    keep_modes,
    padded_size,
    wavenumbers,
)

TRACER = FIELD_NAMES.index("tracer")
VELOCITY_X = FIELD_NAMES.index("velocity_x")
VELOCITY_Y = FIELD_NAMES.index("velocity_y")


def tracer_diffusivity(reynolds: Tensor | float, schmidt: Tensor | float) -> Tensor:
    """Tracer diffusivity D = ν/Sc = 1/(Re·Sc)."""
    return 1.0 / (torch.as_tensor(reynolds) * torch.as_tensor(schmidt))


def laplacian(field: Tensor, lengths: tuple[float, float] = DEFAULT_LENGTHS) -> Tensor:
    """Spectral ∇²f of a periodic field of shape (..., nx, ny)."""
    nx, ny = field.shape[-2:]
    kx, ky = wavenumbers(nx, ny, lengths, dtype=field.dtype, device=field.device)
    return torch.fft.irfft2(-(kx.square() + ky.square()) * torch.fft.rfft2(field), s=(nx, ny))


def advection(
    velocity_x: Tensor,
    velocity_y: Tensor,
    field: Tensor,
    lengths: tuple[float, float] = DEFAULT_LENGTHS,
    *,
    dealias: bool = True,
) -> Tensor:
    """u·∇f of periodic fields (..., nx, ny), spectral derivatives; dealiased by the 3/2 rule."""
    df_dx, df_dy = gradient(field, lengths)
    if not dealias:
        return velocity_x * df_dx + velocity_y * df_dy
    nx, ny = field.shape[-2:]
    kx_max, ky_max = (nx - 1) // 2, (ny - 1) // 2
    mx, my = padded_size(nx), padded_size(ny)
    factors = torch.fft.rfft2(torch.stack([velocity_x, velocity_y, df_dx, df_dy]), norm="forward")
    padded = torch.fft.irfft2(
        keep_modes(factors, mx, my, kx_max, ky_max), s=(mx, my), norm="forward"
    )
    product = torch.fft.rfft2(padded[0] * padded[2] + padded[1] * padded[3], norm="forward")
    return torch.fft.irfft2(keep_modes(product, nx, ny, kx_max, ky_max), s=(nx, ny), norm="forward")


def _denormalise(fields: Tensor, mean: Tensor, std: Tensor) -> Tensor:
    return fields * std[:, None, None] + mean[:, None, None]


def _grid_mean(values: Tensor) -> Tensor:
    return values.mean(dim=(-2, -1))


def shear_flow_penalty(
    inputs: Tensor,
    prediction: Tensor,
    *,
    mean: Tensor | Sequence[float],
    std: Tensor | Sequence[float],
    diffusivity: Tensor | float,
    dt: float = 0.1,
    lengths: tuple[float, float] = DEFAULT_LENGTHS,
    normalise: bool = True,
    dealias: bool = True,
) -> dict[str, Tensor]:
    """Divergence and tracer residuals of a forecast, as scalar tensors keyed by name.

    ``inputs`` (B, frames·4, nx, ny) and ``prediction`` (B, 4, nx, ny) are z-scored with the
    per-field ``mean`` and ``std`` (4 values each, in the order of ``FIELD_NAMES``: tracer,
    pressure, velocity_x, velocity_y); the last 4 input channels are frame n. ``diffusivity``
    is D per sample, shape (B,) (or a scalar); ``dt`` is the time between frames;
    ``dealias=False`` forms ū·∇s̄ pointwise on the grid instead. Differentiable with respect to
    ``prediction``.
    """
    fields = len(FIELD_NAMES)
    if prediction.shape[1] != fields or inputs.shape[1] % fields:
        raise ValueError(f"expected {fields} predicted fields and whole input frames")
    mean_t = torch.as_tensor(mean, dtype=prediction.dtype, device=prediction.device).reshape(-1)
    std_t = torch.as_tensor(std, dtype=prediction.dtype, device=prediction.device).reshape(-1)
    current = _denormalise(inputs[:, -fields:], mean_t, std_t)
    following = _denormalise(prediction, mean_t, std_t)
    batch = prediction.shape[0]
    diff = torch.as_tensor(diffusivity, dtype=prediction.dtype, device=prediction.device)
    diff = diff.reshape(-1).expand(batch) if diff.numel() == 1 else diff.reshape(batch)

    # (a) incompressibility of the predicted velocity.
    velocity_x, velocity_y = following[:, VELOCITY_X], following[:, VELOCITY_Y]
    div_squared = _grid_mean(divergence(velocity_x, velocity_y, lengths).square())

    # (b) tracer advection–diffusion, centred at the midpoint of the step.
    midpoint = 0.5 * (current + following)
    tracer_mid = midpoint[:, TRACER]
    rate = (following[:, TRACER] - current[:, TRACER]) / dt
    transport = advection(
        midpoint[:, VELOCITY_X], midpoint[:, VELOCITY_Y], tracer_mid, lengths, dealias=dealias
    )
    diffusion = -diff[:, None, None] * laplacian(tracer_mid, lengths)
    residual_squared = _grid_mean((rate + transport + diffusion).square())

    if not normalise:
        return {"divergence": div_squared.mean(), "tracer": residual_squared.mean()}

    with torch.no_grad():
        gradients = (*gradient(velocity_x, lengths), *gradient(velocity_y, lengths))
        div_scale = _grid_mean(sum(g.square() for g in gradients))
        div_scale = div_scale.clamp_min(torch.finfo(prediction.dtype).tiny)
    tracer_scale = (std_t[TRACER] / dt) ** 2
    return {
        "divergence": (div_squared / div_scale).mean(),
        "tracer": residual_squared.mean() / tracer_scale,
    }
