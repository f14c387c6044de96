"""One physics-bias variant of one experiment, as merged from the validated config (torch-free)."""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True)
class VariantSpec:
    """One physics-bias variant of one experiment, as merged from the validated config."""

    experiment: str
    model: str
    physics_bias: str
    architecture: dict[str, Any]
    loss_weights: dict[str, float]
    hard_constraints: bool
    training: dict[str, Any]
    #: The sweep point (``base``: the variant as configured), its sweep and swept value.
    point: str = "base"
    sweep: str | None = None
    sweep_value: float | None = None
    #: The declared card it reuses, for an experiment configured with ``card:``; None: its own.
    card: str | None = None

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> VariantSpec:
        return cls(**values)
