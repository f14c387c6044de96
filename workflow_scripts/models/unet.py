"""A classic convolutional U-Net for the periodic 2D shear flow (the "no physics prior" model).

Layout: ``levels`` encoder stages of two (conv 3×3 → GroupNorm → GELU) blocks, each followed by a
2×2 max-pool; a bottleneck block; ``levels`` decoder stages of a 2×2 transposed convolution
(×2 upsampling), concatenation with the encoder's skip tensor and two conv blocks; a 1×1 output
convolution. Channels double at each level (``width``, 2·``width``, …). Every 3×3 convolution pads
circularly by default, because the domain is doubly periodic: a zero border would invent walls.
The pooling and the transposed convolution need no padding, so the whole network is exactly
equivariant to translations by multiples of 2**levels grid cells.

The network predicts the next frame itself, as the study's U-Nets do; wrap it in
:class:`~workflow_scripts.models.increment.IncrementOutput` to predict the change instead.

``time_channels > 0`` turns the network into a flow-matching vector field v(x, t): the scalar
time of each sample is appended as that many constant input channels (t, sin πt, cos πt,
sin 2πt, …), so ``forward(inputs, t)`` takes ``in_channels`` data channels plus the time.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from workflow_scripts.models.increment import IncrementOutput
from workflow_scripts.models.registry import ForecastSetting


def _group_count(channels: int, max_groups: int = 8) -> int:
    """Largest divisor of ``channels`` not above ``max_groups`` (GroupNorm needs a divisor)."""
    return math.gcd(channels, max_groups)


def time_features(t: Tensor, count: int) -> Tensor:
    """Features (t, sin πt, cos πt, sin 2πt, cos 2πt, …) of times ``t`` (B,), shape (B, count)."""
    features = [t]
    for index in range(1, count):
        frequency = math.pi * ((index + 1) // 2)
        features.append(torch.sin(frequency * t) if index % 2 else torch.cos(frequency * t))
    return torch.stack(features[:count], dim=1)


_WRAP_INDEX: dict[tuple[int, int, int, torch.device], Tensor] = {}


def _wrap_index(height: int, width: int, pad: int, device: torch.device) -> Tensor:
    """Flat indices into a (height, width) grid of its periodically padded copy (cached)."""
    key = (height, width, pad, device)
    if key not in _WRAP_INDEX:
        rows = torch.arange(-pad, height + pad, device=device) % height
        columns = torch.arange(-pad, width + pad, device=device) % width
        _WRAP_INDEX[key] = (rows[:, None] * width + columns[None, :]).reshape(-1)
    return _WRAP_INDEX[key]


def periodic_pad(fields: Tensor, pad: int) -> Tensor:
    """Pad the last two axes of ``fields`` periodically by ``pad`` cells on each side.

    The same values as ``F.pad(mode="circular")`` with one gather over the flattened grid; its
    backward is one scatter-add, where the circular pad's slices and copies cost ~40 small GPU
    kernels more per call, which dominates a small U-Net's step time on a GPU.
    """
    height, width = fields.shape[-2:]
    index = _wrap_index(height, width, pad, fields.device)
    padded = fields.flatten(-2).index_select(-1, index)
    return padded.unflatten(-1, (height + 2 * pad, width + 2 * pad))


class PeriodicConv2d(nn.Conv2d):
    """A "same"-size convolution on a doubly periodic grid (odd kernel, stride 1)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, bias: bool) -> None:
        if kernel_size % 2 == 0:
            raise ValueError(
                f"a same-size periodic convolution needs an odd kernel, got {kernel_size}"
            )
        super().__init__(in_channels, out_channels, kernel_size, padding=0, bias=bias)

    def forward(self, inputs: Tensor) -> Tensor:
        return super().forward(periodic_pad(inputs, self.kernel_size[0] // 2))


def conv3x3(in_channels: int, out_channels: int, padding_mode: str) -> nn.Conv2d:
    if padding_mode == "circular":
        return PeriodicConv2d(in_channels, out_channels, 3, bias=False)
    return nn.Conv2d(in_channels, out_channels, 3, padding=1, padding_mode=padding_mode, bias=False)


class ConvBlock(nn.Sequential):
    """Two (3×3 convolution → GroupNorm → GELU) layers; the norm makes the bias redundant."""

    def __init__(self, in_channels: int, out_channels: int, padding_mode: str) -> None:
        layers: list[nn.Module] = []
        for channels_in in (in_channels, out_channels):
            layers += [
                conv3x3(channels_in, out_channels, padding_mode),
                nn.GroupNorm(_group_count(out_channels), out_channels),
                nn.GELU(),
            ]
        super().__init__(*layers)


class UNet(nn.Module):
    """U-Net mapping (B, in_channels, H, W) to (B, out_channels, H, W).

    H and W must be divisible by 2**levels. With ``time_channels > 0``, call ``forward(x, t)``
    with ``t`` of shape (B,) (or a scalar, broadcast over the batch).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        width: int = 16,
        levels: int = 2,
        padding_mode: str = "circular",
        *,
        time_channels: int = 0,
    ) -> None:
        super().__init__()
        if levels < 0:
            raise ValueError(f"levels must be >= 0, got {levels}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.levels = levels
        self.time_channels = time_channels

        channels = [width * 2**level for level in range(levels + 1)]
        self.encoder = nn.ModuleList()
        features = in_channels + time_channels
        for level in range(levels):
            self.encoder.append(ConvBlock(features, channels[level], padding_mode))
            features = channels[level]
        self.pool = nn.MaxPool2d(2)
        self.bottleneck = ConvBlock(features, channels[levels], padding_mode)
        self.upsample = nn.ModuleList()
        self.decoder = nn.ModuleList()
        for level in reversed(range(levels)):
            self.upsample.append(
                nn.ConvTranspose2d(channels[level + 1], channels[level], kernel_size=2, stride=2)
            )
            self.decoder.append(ConvBlock(2 * channels[level], channels[level], padding_mode))
        self.head = nn.Conv2d(channels[0], out_channels, kernel_size=1)

    def forward(self, inputs: Tensor, t: Tensor | float | None = None) -> Tensor:
        batch, _, height, width = inputs.shape
        factor = 2**self.levels
        if height % factor or width % factor:
            raise ValueError(f"grid {height}×{width} is not divisible by 2**levels = {factor}")
        features = inputs
        if self.time_channels:
            if t is None:
                raise ValueError("this U-Net is time-conditioned: call forward(inputs, t)")
            times = torch.as_tensor(t, dtype=inputs.dtype, device=inputs.device).reshape(-1)
            times = times.expand(batch) if times.numel() == 1 else times
            constant = time_features(times, self.time_channels)[:, :, None, None]
            features = torch.cat([inputs, constant.expand(-1, -1, height, width)], dim=1)
        elif t is not None:
            raise ValueError("time given to a U-Net built with time_channels=0")

        skips: list[Tensor] = []
        for block in self.encoder:
            features = block(features)
            skips.append(features)
            features = self.pool(features)
        features = self.bottleneck(features)
        for upsample, block in zip(self.upsample, self.decoder, strict=True):
            features = block(torch.cat([upsample(features), skips.pop()], dim=1))
        return self.head(features)


def build_unet_forecaster(architecture: dict[str, Any], setting: ForecastSetting) -> nn.Module:
    """The U-Net forecaster (``unet_physloss`` differs only in its loss weights)."""
    model = UNet(
        setting.in_channels,
        setting.fields,
        width=architecture["width"],
        levels=architecture["levels"],
    )
    if architecture["residual"]:
        return IncrementOutput(model, setting.delta_scale)
    return model
