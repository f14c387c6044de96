"""Fourier neural operators for the periodic 2D shear flow (the "strong physics prior" models).

:class:`FNOForecaster` wraps neuraloperator's ``FNO``: a pointwise lifting, ``layers`` Fourier
blocks (a spectral convolution on the lowest ``modes`` plus a pointwise skip and channel MLP) and
a pointwise projection. Spectral convolutions are periodic by construction and, with
neuraloperator's ``fft_norm="forward"``, act on Fourier coefficients that do not depend on the
grid size, so the same weights run at any resolution that holds the retained modes. The prior
here is periodicity plus a smooth, global (low-mode) operator. Neuraloperator's default ``grid``
positional embedding is off by default: it appends the non-periodic coordinates x and y, which
breaks both periodicity (a jump at the boundary) and translation equivariance.

:class:`DivergenceFreeOutput` adds the strongest prior, exact incompressibility: the predicted
velocity is Helmholtz–Leray projected onto divergence-free fields in Fourier space, so ∇·u = 0
to round-off whatever the weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from neuralop.models import FNO
from torch import Tensor, nn

from workflow_scripts.models.increment import IncrementOutput
from workflow_scripts.models.registry import ForecastSetting
from workflow_scripts.physics.spectral import DEFAULT_LENGTHS, project_divergence_free

HALF_DTYPES = (torch.float16, torch.bfloat16)


class FNOForecaster(nn.Module):
    """neuraloperator FNO mapping (B, in_channels, nx, ny) to (B, out_channels, nx, ny).

    ``modes`` are the Fourier modes kept per axis (the signed modes −modes/2 … modes/2 − 1 along
    x; the non-negative modes 0 … modes/2 along y, the rfft axis), so a grid needs at least
    ``modes`` points per axis to hold all of them; on a coarser grid the FNO silently keeps
    fewer. ``width`` is the hidden channel count and ``layers`` the number of Fourier blocks.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        modes: Sequence[int] = (8, 16),
        width: int = 16,
        layers: int = 4,
        *,
        lifting_ratio: float = 2.0,
        projection_ratio: float = 2.0,
        positional_embedding: bool = False,
    ) -> None:
        super().__init__()
        if len(modes) != 2:
            raise ValueError(f"expected two mode counts (x, y), got {modes}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.modes = tuple(int(m) for m in modes)
        self.fno = FNO(
            n_modes=self.modes,
            in_channels=in_channels,
            out_channels=out_channels,
            hidden_channels=width,
            n_layers=layers,
            lifting_channel_ratio=lifting_ratio,
            projection_channel_ratio=projection_ratio,
            positional_embedding="grid" if positional_embedding else None,
            domain_padding=None,  # the domain is periodic: no padding needed
        )

    def forward(self, inputs: Tensor) -> Tensor:
        # FFTs have no bfloat16 kernels: under the bf16 autocast switch the FNO stays float32.
        with torch.autocast(inputs.device.type, enabled=False):
            return self.fno(inputs.float() if inputs.dtype in HALF_DTYPES else inputs)


def _as_vector(values: Tensor | Sequence[float], name: str) -> Tensor:
    # On the CPU as float32: the buffers then follow the module's .to(device).
    vector = torch.as_tensor(values).detach().to(device="cpu", dtype=torch.float32).reshape(-1)
    if not torch.isfinite(vector).all():
        raise ValueError(f"{name} must be finite")
    return vector.clone()


class DivergenceFreeOutput(nn.Module):
    """Wrap a network so that its predicted velocity is exactly divergence-free.

    The network's outputs are z-scored per channel, and u_x, u_y have different standard
    deviations, so a divergence-free field in z-units is not divergence-free in physical units.
    Hence: de-normalise the velocity channels, project them (``project_divergence_free``, the
    same spectral operator as ``shear_flow.divergence``), re-normalise. ``mean`` and ``std``
    are the per-channel statistics of the network's output channels (one value per output
    channel), or of the two velocity channels only (two values). The mean only touches the
    k = 0 mode, which the projection keeps, but it is applied for clarity. Other channels pass
    through unchanged. Extra forward arguments go to the wrapped network.
    """

    def __init__(
        self,
        network: nn.Module,
        velocity_channels: tuple[int, int] = (2, 3),
        *,
        mean: Tensor | Sequence[float],
        std: Tensor | Sequence[float],
        lengths: tuple[float, float] = DEFAULT_LENGTHS,
    ) -> None:
        super().__init__()
        self.network = network
        self.velocity_channels = tuple(velocity_channels)
        self.lengths = lengths
        mean_vector, std_vector = _as_vector(mean, "mean"), _as_vector(std, "std")
        if mean_vector.numel() != std_vector.numel():
            raise ValueError("mean and std must have the same length")
        if mean_vector.numel() != 2:
            index = torch.tensor(self.velocity_channels)
            mean_vector, std_vector = mean_vector[index], std_vector[index]
        if (std_vector <= 0).any():
            raise ValueError("std must be positive")
        # Buffers: saved with the weights and moved with .to(device).
        self.register_buffer("velocity_mean", mean_vector)
        self.register_buffer("velocity_std", std_vector)

    def project(self, output: Tensor) -> Tensor:
        """Project the velocity channels of z-scored ``output`` (B, C, nx, ny), physically."""
        index_x, index_y = self.velocity_channels
        mean = self.velocity_mean.to(output)
        std = self.velocity_std.to(output)
        velocity_x = output[:, index_x] * std[0] + mean[0]
        velocity_y = output[:, index_y] * std[1] + mean[1]
        velocity_x, velocity_y = project_divergence_free(velocity_x, velocity_y, self.lengths)
        channels = list(output.unbind(dim=1))
        channels[index_x] = (velocity_x - mean[0]) / std[0]
        channels[index_y] = (velocity_y - mean[1]) / std[1]
        return torch.stack(channels, dim=1)

    def forward(self, inputs: Tensor, *args, **kwargs) -> Tensor:
        return self.project(self.network(inputs, *args, **kwargs))


def build_fno_forecaster(architecture: dict[str, Any], setting: ForecastSetting) -> nn.Module:
    model: nn.Module = FNOForecaster(
        setting.in_channels,
        setting.fields,
        modes=architecture["modes"],
        width=architecture["width"],
        layers=architecture["layers"],
    )
    if architecture["residual"]:
        model = IncrementOutput(model, setting.delta_scale)
    return model


def build_divergence_free_fno(architecture: dict[str, Any], setting: ForecastSetting) -> nn.Module:
    return DivergenceFreeOutput(
        build_fno_forecaster(architecture, setting),
        mean=setting.mean.cpu(),
        std=setting.std.cpu(),
    )
