"""Efficiency measurements other than energy: FLOPs, parameters, wall time and memory."""

from __future__ import annotations

import math
import platform
import resource
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode, flop_registry


class _GlobalOnly:
    """Stands in for FlopCounterMode's module tracker, whose hooks break ``autograd.grad``
    on leaf inputs (PDE residuals); we only need the global total anyway."""

    parents = frozenset({"Global"})

    def __enter__(self) -> _GlobalOnly:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None


def _real_rate(formula: Callable[..., int]) -> Callable[..., int]:
    """A matmul/convolution formula that counts complex operands at their real cost: a complex
    multiply-add is 4 real multiplies and 4 real adds, 4× a real one (torch counts it as 1×)."""

    def count(*args: Any, out_val: Any = None, **kwargs: Any) -> int:
        flops = formula(*args, out_val=out_val, **kwargs)
        complex_operand = any(isinstance(a, torch.Tensor) and a.is_complex() for a in args)
        return 4 * flops if complex_operand else flops

    count._get_raw = True  # type: ignore[attr-defined]  # receives tensors, not shapes
    return count


def _fft_flops(signal_sizes: list[int], total: int, per_point: float) -> int:
    """``per_point`` · N log2 N per transform of N = prod(signal_sizes) points, for each of the
    total / N transforms in the batch."""
    points = math.prod(signal_sizes)
    if points <= 1:
        return 0
    return round(total / points * per_point * points * math.log2(points))


def _fft_r2c(x: Any, dim: list[int], *args: Any, out_shape: Any = None, **kwargs: Any) -> int:
    return _fft_flops([x[d] for d in dim], math.prod(x), 2.5)


def _fft_c2r(x: Any, dim: list[int], *args: Any, out_shape: Any = None, **kwargs: Any) -> int:
    return _fft_flops([out_shape[d] for d in dim], math.prod(out_shape), 2.5)


def _fft_c2c(x: Any, dim: list[int], *args: Any, out_shape: Any = None, **kwargs: Any) -> int:
    return _fft_flops([x[d] for d in dim], math.prod(x), 5.0)


_ATEN = torch.ops.aten
_FLOP_FORMULAS = {
    **{
        op: _real_rate(flop_registry[op])
        for op in (_ATEN.mm, _ATEN.addmm, _ATEN.bmm, _ATEN.baddbmm, _ATEN.convolution)
    },
    _ATEN._fft_r2c: _fft_r2c,
    _ATEN._fft_c2r: _fft_c2r,
    _ATEN._fft_c2c: _fft_c2c,
}


def count_flops(run: Callable[[], Any]) -> int:
    """FLOPs of one call of ``run`` (forward and any backward inside), by torch's counter.

    Counted from operand shapes: a real matmul or convolution 2 FLOPs per multiply-add, a complex
    one 8 (torch alone would count it as real); FFTs by the usual convention of 5 N log2 N for a
    complex transform of N points and half that for a real one (torch alone counts them as 0).
    Elementwise ops (activations, normalisation, optimiser updates) count 0.
    """
    counter = FlopCounterMode(display=False, custom_mapping=_FLOP_FORMULAS)
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


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    return f"cpu: {platform.processor() or platform.machine()}"


def peak_memory_mb(device: torch.device) -> tuple[float, str]:
    """Peak memory of this job and what it is: CUDA allocations, or the process's peak RSS."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20, "cuda_max_allocated"
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "process_peak_rss"


def time_repeated(
    run: Callable[[], Any],
    device: torch.device,
    min_seconds: float,
    min_repeats: int = 3,
    relative_precision: float | None = None,
    max_seconds: float = math.inf,
) -> int:
    """Call ``run`` until at least ``min_seconds`` and ``min_repeats`` calls and, where
    ``relative_precision`` is set, until the 95 % confidence half-width of the mean call time is
    within that fraction of the mean; stop at ``max_seconds`` regardless. Return the count.

    The repeats are sized to the measurement's noise: a steady 0.3 ms prediction is done after
    ``min_seconds``, a noisy one runs longer.
    """
    times: list[float] = []
    start = time.perf_counter()
    while True:
        began = time.perf_counter()
        run()
        synchronize(device)
        now = time.perf_counter()
        times.append(now - began)
        if now - start >= max_seconds:
            break
        if len(times) < max(min_repeats, 2) or now - start < min_seconds:
            continue
        if relative_precision is None or _half_width(times) <= relative_precision * (
            sum(times) / len(times)
        ):
            break
    return len(times)


def _half_width(times: list[float]) -> float:
    """95 % confidence half-width of the mean of ``times`` (normal approximation)."""
    n = len(times)
    mean = sum(times) / n
    variance = sum((t - mean) ** 2 for t in times) / (n - 1)
    return 1.96 * math.sqrt(variance / n)
