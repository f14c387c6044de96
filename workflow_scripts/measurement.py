"""Efficiency measurements other than energy: FLOPs, parameters, wall time and memory."""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


class _GlobalOnly:
    """Stands in for FlopCounterMode's module tracker, whose hooks break ``autograd.grad``
    on leaf inputs (PDE residuals); we only need the global total anyway."""

    parents = frozenset({"Global"})

    def __enter__(self) -> _GlobalOnly:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None


def count_flops(run: Callable[[], Any]) -> int:
    """FLOPs of one call of ``run`` (forward and any backward inside), by torch's counter.

    A matmul counts 2mnk; elementwise ops (activations, optimiser updates) count 0.
    """
    counter = FlopCounterMode(display=False)
    counter.mod_tracker = _GlobalOnly()
    with counter:
        run()
    return int(counter.get_total_flops())


def count_parameters(module: nn.Module) -> int:
    """Trainable real parameters; a complex weight (the spectral ones) counts as two."""
    return sum(
        p.numel() * (2 if p.is_complex() else 1) for p in module.parameters() if p.requires_grad
    )


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_memory_mb(device: torch.device) -> tuple[float, str]:
    """Peak memory of this job and what it is: CUDA allocations, or the process's peak RSS."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20, "cuda_max_allocated"
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "process_peak_rss"


def time_repeated(
    run: Callable[[], Any], device: torch.device, min_seconds: float, min_repeats: int = 3
) -> int:
    """Call ``run`` until at least ``min_seconds`` and ``min_repeats`` calls; return the count."""
    repeats = 0
    start = time.perf_counter()
    while repeats < min_repeats or time.perf_counter() - start < min_seconds:
        run()
        repeats += 1
    synchronize(device)
    return repeats
