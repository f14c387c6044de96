"""Divergence: a loss, loss term, validation error or parameter that is NaN or infinite stops
the run, naming the variant, the seed, the step and the loss."""

from __future__ import annotations

import math

import torch
from torch import nn

from workflow_scripts.experiments.base import VariantSpec


class TrainingDiverged(RuntimeError):
    """A loss, loss term, validation error or parameter became NaN or infinite; the message
    names the variant, the seed, the step and the loss."""


class DivergenceCheck:
    """Raises :class:`TrainingDiverged` when the loss, a loss term, the validation error or a
    parameter is not finite.

    The loss is checked every step where reading it costs no device sync (CPU); on CUDA only at
    the points the loop syncs anyway (log steps, checkpoints), together with the parameters.
    """

    def __init__(self, spec: VariantSpec, seed: int | None, model: nn.Module) -> None:
        self.spec, self.seed, self.model = spec, seed, model

    def fail(self, step: int, phase: str, loss: float, what: str) -> None:
        seed = "?" if self.seed is None else self.seed
        raise TrainingDiverged(
            f"training of {self.spec.experiment}/{self.spec.model} seed {seed} diverged at step "
            f"{step} ({phase} phase): {what}, loss {loss:.6g}; nothing of this run is written. "
            "Lower training.lr (or change the variant) and re-run."
        )

    def loss(self, step: int, phase: str, loss: float) -> None:
        if not math.isfinite(loss):
            self.fail(step, phase, loss, "the loss is not finite")

    def logged(self, step: int, phase: str, loss: float, terms: dict[str, torch.Tensor]) -> None:
        """At a log step: the loss, each loss term and every parameter."""
        self.loss(step, phase, loss)
        for name, value in terms.items():
            if not math.isfinite(value.item()):
                self.fail(step, phase, loss, f"loss term {name!r} is {value.item()}")
        self.parameters(step, phase, loss)

    def validation_error(self, step: int, phase: str, loss: float, val_mse: float) -> None:
        if not math.isfinite(val_mse):
            self.fail(step, phase, loss, f"the validation error is {val_mse}")

    def parameters(self, step: int, phase: str, loss: float) -> None:
        parameters = [(n, p.detach()) for n, p in self.model.named_parameters()]
        if not parameters:
            return
        if bool(torch.stack([torch.isfinite(p).all() for _, p in parameters]).all()):
            return  # one sync for all parameters
        name = next(n for n, p in parameters if not bool(torch.isfinite(p).all()))
        self.fail(step, phase, loss, f"parameter {name!r} is not finite")
