"""Process-level set-up shared by every job: device choice, seeding, threads, logging."""

from __future__ import annotations

import logging
import random
import sys

import numpy as np
import torch

from workflow_scripts.errors import ConfigError
from workflow_scripts.gpu_slots import pin_to_free_gpu

log = logging.getLogger("workflow_scripts")

DTYPES = {"float32": torch.float32, "float64": torch.float64}
_COMPLEX_OF = {torch.float32: torch.complex64, torch.float64: torch.complex128}


def to_precision(module: torch.nn.Module, dtype: torch.dtype) -> torch.nn.Module:
    """Cast real floating tensors to ``dtype`` and complex ones (spectral weights) to the complex
    type of the same precision. ``module.to(dtype)`` would drop their imaginary parts, and
    ``module.double()`` would leave them in single precision."""
    complex_dtype = _COMPLEX_OF[dtype]

    def cast(tensor: torch.Tensor) -> torch.Tensor:
        if tensor.is_complex():
            return tensor.to(complex_dtype)
        return tensor.to(dtype) if tensor.is_floating_point() else tensor

    return module._apply(cast)


def resolve_device(requested: str) -> torch.device:
    """Map the config's ``device`` (auto | cpu | cuda) to a torch device, CUDA when present.

    With auto or cuda on a machine with several GPUs and no ``CUDA_VISIBLE_DEVICES`` yet, the
    job is first pinned to a device no other job holds (``gpu_slots``), before torch looks
    for CUDA: call this before anything else in the job touches CUDA.
    """
    if requested in ("auto", "cuda"):
        device = pin_to_free_gpu()
        if device is not None:
            log.info("pinned to GPU %d of this machine (CUDA_VISIBLE_DEVICES=%d)", device, device)
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            "config key 'device' is 'cuda' but torch sees no CUDA device on this node"
        )
    if requested not in ("cpu", "cuda"):
        raise ConfigError(f"config key 'device' must be auto, cpu or cuda, not {requested!r}")
    return torch.device(requested)


def seed_everything(seed: int) -> None:
    """Seed every generator a run touches, and ask torch for deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    use_deterministic_algorithms()


def use_deterministic_algorithms() -> None:
    """``torch.use_deterministic_algorithms(True, warn_only=True)`` without its import of
    torch._inductor (2-3 s a job on a 2-core VM), which only sets a torch.compile option: no
    job compiles. Where inductor is loaded anyway, the public call sets both."""
    setter = getattr(torch._C, "_set_deterministic_algorithms", None)
    if setter is None or "torch._inductor" in sys.modules:
        torch.use_deterministic_algorithms(True, warn_only=True)
    else:
        setter(True, warn_only=True)


def set_threads(threads: int) -> None:
    torch.set_num_threads(max(1, int(threads)))
