"""Building a shear-flow forecaster from its architecture ``kind``.

The kinds are declared, torch-free, in ``workflow_scripts/architectures/`` (the keys each takes
with defaults, what it needs of the grid, which loss terms it uses, and its builder). A builder
receives the variant's ``architecture`` mapping (``kind`` and defaults included) and the
:class:`ForecastSetting`, and returns a module mapping (B, input_frames·fields, nx, ny) to the
next frame (B, fields, nx, ny) in z-units. A model with its own objective (flow matching)
defines ``training_loss(inputs, target, generator)``; else the loss is the MSE of ``forward``,
plus the physics penalties its loss weights switch on.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from torch import Tensor, nn

from workflow_scripts.architectures import build_architecture


@dataclasses.dataclass(frozen=True)
class ForecastSetting:
    """What a forecaster needs to know of the data."""

    input_frames: int
    fields: int
    delta_scale: Tensor  # typical one-step change per field, in z-units
    mean: Tensor  # per-field normalisation: physical = z·std + mean
    std: Tensor

    @property
    def in_channels(self) -> int:
        return self.input_frames * self.fields


def build_forecaster(architecture: dict[str, Any], setting: ForecastSetting) -> nn.Module:
    return build_architecture(architecture, "field", setting)
