"""What one optimisation step is made of: the weighted loss, the Adam-family optimiser, its
learning-rate schedule, and the precision the forward pass runs in."""

from __future__ import annotations

import contextlib
import math
from typing import Any

import torch
from torch import nn


def weighted_loss(terms: dict[str, torch.Tensor], weights: dict[str, float]) -> torch.Tensor:
    return sum(weights[name] * value for name, value in terms.items())


def make_optimizer(model: nn.Module, training: dict[str, Any]) -> torch.optim.Optimizer:
    """Adam or AdamW, with the multi-tensor (``foreach``) update on every device.

    torch picks it by default on CUDA only; on the CPU it also saves a dispatch per parameter
    and op (~10 % of a small U-Net's step), and one code path serves both devices.
    """
    options = {"lr": training["lr"], "weight_decay": training["weight_decay"], "foreach": True}
    name = training["optimizer"]
    if name == "adam":  # weight decay as an L2 term in the gradient
        return torch.optim.Adam(model.parameters(), **options)
    if name == "adamw":  # decoupled weight decay
        return torch.optim.AdamW(model.parameters(), **options)
    raise ValueError(f"unknown optimizer {name!r}")


def learning_rate_factor(step: int, training: dict[str, Any]) -> float:
    """Linear warm-up then constant or cosine decay, per optimiser step."""
    warmup = training.get("warmup_steps", 0)
    if step < warmup:
        return (step + 1) / warmup
    if training.get("schedule", "constant") == "cosine":
        progress = (step - warmup) / max(1, training["steps"] - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
    return 1.0


def make_scheduler(
    optimizer: torch.optim.Optimizer, training: dict[str, Any]
) -> torch.optim.lr_scheduler.LambdaLR:
    """The schedule of :func:`learning_rate_factor`, stepped once per optimiser step."""
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: learning_rate_factor(step, training)
    )


def autocast(training: dict[str, Any], device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast of the forward/loss on CUDA when ``training.amp: bf16``; a no-op else."""
    if training.get("amp", "none") == "bf16" and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()
