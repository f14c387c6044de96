"""Spectral operators on real, doubly periodic fields of shape (..., nx, ny) on an Lx x Ly box.

Shared by the solver (``physics/shear_flow.py``), its physics penalty, the FNO's
divergence-free output and the metrics, so that all of them differentiate with the same
wavenumbers (Nyquist modes zeroed) and dealias with the same 3/2 rule. Torch only; no solver
state.

Grid convention (The Well's ``shear_flow``): x_j = j Lx/nx on [0, Lx) along the first axis,
y_j = -Ly/2 + j Ly/ny on [-Ly/2, Ly/2) along the second.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

#: (Lx, Ly) of The Well's shear_flow box: x in [0, 1), y in [-1, 1).
DEFAULT_LENGTHS = (1.0, 2.0)


def grid(
    nx: int,
    ny: int,
    lengths: tuple[float, float] = DEFAULT_LENGTHS,
    *,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> tuple[Tensor, Tensor]:
    """Grid coordinates x_j = j Lx/nx (shape (nx, 1)) and y_j = −Ly/2 + j Ly/ny (shape (1, ny))."""
    lx, ly = lengths
    x = torch.arange(nx, dtype=dtype, device=device) * (lx / nx)
    y = torch.arange(ny, dtype=dtype, device=device) * (ly / ny) - ly / 2
    return x[:, None], y[None, :]


def wavenumbers(
    nx: int,
    ny: int,
    lengths: tuple[float, float] = DEFAULT_LENGTHS,
    *,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> tuple[Tensor, Tensor]:
    """Angular wavenumbers of the rfft2 layout: kx (nx, 1) and ky (1, ny//2 + 1).

    The Nyquist wavenumbers are set to zero: odd derivatives of a real field are then real, and
    the divergence and the projection below use the same (consistent) operator.
    """
    lx, ly = lengths
    kx = torch.fft.fftfreq(nx, d=1.0 / nx, dtype=dtype, device=device) * (2 * math.pi / lx)
    ky = torch.fft.rfftfreq(ny, d=1.0 / ny, dtype=dtype, device=device) * (2 * math.pi / ly)
    if nx % 2 == 0:
        kx[nx // 2] = 0.0
    if ny % 2 == 0:
        ky[ny // 2] = 0.0
    return kx[:, None], ky[None, :]


def _spectral_gradient_ops(field: Tensor, lengths: tuple[float, float]) -> tuple[Tensor, Tensor]:
    nx, ny = field.shape[-2:]
    return wavenumbers(nx, ny, lengths, dtype=field.dtype, device=field.device)


def gradient(
    field: Tensor, lengths: tuple[float, float] = DEFAULT_LENGTHS
) -> tuple[Tensor, Tensor]:
    """Spectral (∂x f, ∂y f) of a periodic field of shape (..., nx, ny)."""
    nx, ny = field.shape[-2:]
    kx, ky = _spectral_gradient_ops(field, lengths)
    field_hat = torch.fft.rfft2(field)
    return (
        torch.fft.irfft2(1j * kx * field_hat, s=(nx, ny)),
        torch.fft.irfft2(1j * ky * field_hat, s=(nx, ny)),
    )


def divergence(
    velocity_x: Tensor, velocity_y: Tensor, lengths: tuple[float, float] = DEFAULT_LENGTHS
) -> Tensor:
    """Spectral ∂x u_x + ∂y u_y of periodic fields of shape (..., nx, ny)."""
    nx, ny = velocity_x.shape[-2:]
    kx, ky = _spectral_gradient_ops(velocity_x, lengths)
    div_hat = 1j * kx * torch.fft.rfft2(velocity_x) + 1j * ky * torch.fft.rfft2(velocity_y)
    return torch.fft.irfft2(div_hat, s=(nx, ny))


def vorticity(
    velocity_x: Tensor, velocity_y: Tensor, lengths: tuple[float, float] = DEFAULT_LENGTHS
) -> Tensor:
    """Spectral ω = ∂x u_y − ∂y u_x of periodic fields of shape (..., nx, ny)."""
    nx, ny = velocity_x.shape[-2:]
    kx, ky = _spectral_gradient_ops(velocity_x, lengths)
    omega_hat = 1j * kx * torch.fft.rfft2(velocity_y) - 1j * ky * torch.fft.rfft2(velocity_x)
    return torch.fft.irfft2(omega_hat, s=(nx, ny))


def project_divergence_free(
    velocity_x: Tensor, velocity_y: Tensor, lengths: tuple[float, float] = DEFAULT_LENGTHS
) -> tuple[Tensor, Tensor]:
    """Helmholtz–Leray projection of a periodic velocity field onto its divergence-free part.

    Works on real tensors of shape (..., nx, ny) of any float dtype and device, keeps the mean
    flow, and is differentiable (usable inside a network). In Fourier space
    û ← û − k (k·û)/|k|², with the same wavenumbers as :func:`divergence`, so the result has zero
    spectral divergence to round-off.
    """
    nx, ny = velocity_x.shape[-2:]
    kx, ky = _spectral_gradient_ops(velocity_x, lengths)
    k_squared = kx.square() + ky.square()
    # Where |k| = 0 (mean flow, and modes whose only wavenumber is a Nyquist one) keep û as is.
    inverse_k_squared = torch.where(k_squared > 0, 1.0 / k_squared.clamp_min(1e-30), 0.0)
    u_hat = torch.fft.rfft2(velocity_x)
    v_hat = torch.fft.rfft2(velocity_y)
    k_dot_u = (kx * u_hat + ky * v_hat) * inverse_k_squared
    u_hat = u_hat - kx * k_dot_u
    v_hat = v_hat - ky * k_dot_u
    return torch.fft.irfft2(u_hat, s=(nx, ny)), torch.fft.irfft2(v_hat, s=(nx, ny))


def padded_size(n: int) -> int:
    """Smallest even grid size ≥ 3/2·n, alias-free for quadratic products of |m| < n/2."""
    size = math.ceil(3 * n / 2)
    return size + (size % 2)


def keep_modes(spectrum: Tensor, nx: int, ny: int, kx_max: int, ky_max: int) -> Tensor:
    """rfft2 coefficients re-laid on an (nx, ny) grid, keeping |m_x| ≤ kx_max, m_y ≤ ky_max
    (zero-padding to a finer grid or truncating to a coarser one)."""
    out = spectrum.new_zeros(*spectrum.shape[:-2], nx, ny // 2 + 1)
    out[..., : kx_max + 1, : ky_max + 1] = spectrum[..., : kx_max + 1, : ky_max + 1]
    if kx_max > 0:
        out[..., -kx_max:, : ky_max + 1] = spectrum[..., -kx_max:, : ky_max + 1]
    return out
