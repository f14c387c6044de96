"""Shear-flow forecasters by architecture ``kind``.

A model module registers a builder for its kind(s) with :func:`register_forecaster`; every
module of this package is imported on first lookup, so a new variant is a new module here plus
a config entry (``architecture: {kind: ...}``), and nothing else changes. A builder receives
the variant's ``architecture`` mapping (``kind`` included) and the :class:`ForecastSetting`,
and returns a module mapping (B, input_frames·fields, nx, ny) to the next frame
(B, fields, nx, ny) in z-units. A model with its own objective (flow matching) defines
``training_loss(inputs, target, generator)``; else the loss is the MSE of ``forward``.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from collections.abc import Callable
from typing import Any

from torch import Tensor, nn


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


Builder = Callable[[dict[str, Any], ForecastSetting], nn.Module]
_BUILDERS: dict[str, Builder] = {}


def register_forecaster(*kinds: str) -> Callable[[Builder], Builder]:
    def register(builder: Builder) -> Builder:
        for kind in kinds:
            if kind in _BUILDERS and _BUILDERS[kind] is not builder:
                raise ValueError(f"forecaster kind {kind!r} is registered twice")
            _BUILDERS[kind] = builder
        return builder

    return register


def _import_model_modules() -> None:
    package = importlib.import_module(__package__)
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{__package__}.{module.name}")


def forecaster_kinds() -> tuple[str, ...]:
    _import_model_modules()
    return tuple(sorted(_BUILDERS))


def build_forecaster(architecture: dict[str, Any], setting: ForecastSetting) -> nn.Module:
    kind = architecture["kind"]
    if kind not in forecaster_kinds():
        raise ValueError(f"unknown forecaster kind {kind!r}; registered: {forecaster_kinds()}")
    return _BUILDERS[kind](architecture, setting)
