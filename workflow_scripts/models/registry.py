"""Shear-flow forecasters by architecture ``kind``.

A model module registers a builder for its kind(s) with :func:`register_forecaster`; every
module of this package is imported on first lookup, so a new variant is a new module here plus
a config entry (``architecture: {kind: ...}``), and nothing else changes. A builder receives
the variant's ``architecture`` mapping (``kind`` included) and the :class:`ForecastSetting`,
and returns a module mapping (B, input_frames·fields, nx, ny) to the next frame
(B, fields, nx, ny) in z-units. A model with its own objective (flow matching) defines
``training_loss(inputs, target, generator)``; else the loss is the MSE of ``forward``, plus the
physics penalties its loss weights switch on. What a kind needs of the grid, and which loss
weights it uses, is declared at registration, so the config check refuses a setting that
would fail, or be silently ignored, inside a job.
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
GridMultiple = Callable[[dict[str, Any]], int]

# The loss terms of the shear-flow experiment: the one-step MSE and the physics penalties.
LOSS_TERMS = ("data", "divergence", "tracer")


@dataclasses.dataclass(frozen=True)
class ForecasterKind:
    """A registered kind: its builder and what the config check must know of it."""

    builder: Builder
    grid_multiple: GridMultiple | None  # the grid must divide by it (None: any grid)
    loss_terms: tuple[str, ...]  # the loss weights it uses


_KINDS: dict[str, ForecasterKind] = {}


def register_forecaster(
    *kinds: str,
    grid_multiple: GridMultiple | None = None,
    loss_terms: tuple[str, ...] = LOSS_TERMS,
) -> Callable[[Builder], Builder]:
    """Register ``builder`` for ``kinds``.

    ``grid_multiple(architecture)``: what both grid sizes must be divisible by (pooling levels);
    ``loss_terms``: the loss weights the model uses; a model with its own objective
    (``training_loss``) uses ``("data",)``. The config check refuses other settings up front.
    """

    def register(builder: Builder) -> Builder:
        for kind in kinds:
            if kind in _KINDS and _KINDS[kind].builder is not builder:
                raise ValueError(f"forecaster kind {kind!r} is registered twice")
            _KINDS[kind] = ForecasterKind(builder, grid_multiple, tuple(loss_terms))
        return builder

    return register


def _import_model_modules() -> None:
    package = importlib.import_module(__package__)
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{__package__}.{module.name}")


def forecaster_kinds() -> tuple[str, ...]:
    _import_model_modules()
    return tuple(sorted(_KINDS))


def forecaster_kind(kind: str) -> ForecasterKind:
    if kind not in forecaster_kinds():
        raise ValueError(f"unknown forecaster kind {kind!r}; registered: {forecaster_kinds()}")
    return _KINDS[kind]


def build_forecaster(architecture: dict[str, Any], setting: ForecastSetting) -> nn.Module:
    return forecaster_kind(architecture["kind"]).builder(architecture, setting)
