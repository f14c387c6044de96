"""An interrupted run's state: where it waits, what it holds (model, optimiser, schedule, the
random generators, the learning curve so far), and how a re-run resumes from it.

A checkpoint holds tensors and one JSON string, so that it loads with
``torch.load(weights_only=True)``: a pickled object in a crafted file is refused, never run.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from workflow_scripts.experiments.base import VariantSpec
from workflow_scripts.families.base import Experiment
from workflow_scripts.files import atomic_path
from workflow_scripts.training.learning_curve import Recorder

log = logging.getLogger(__name__)


def checkpoint_path(model_output: Path) -> Path:
    """Where an interrupted run's state waits: beside the model, never a Snakemake output."""
    return Path(model_output).with_name("checkpoint.pt")


def tensor_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The model's tensors only: neuraloperator adds a ``_metadata`` dict of init arguments
    (functions among them), which ``torch.load(weights_only=True)`` refuses."""
    return {k: v for k, v in model.state_dict().items() if isinstance(v, torch.Tensor)}


def _rng_states(experiment: Experiment) -> tuple[dict[str, Any], dict[str, Any]]:
    """The generators' states: (tensors, JSON-able primitives)."""
    tensors: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        tensors["cuda"] = torch.cuda.get_rng_state_all()
    # Experiments that sample minibatches from their own generator expose its state.
    if hasattr(experiment, "sampler_state"):
        tensors["sampler"] = experiment.sampler_state()
    name, keys, position, has_gauss, cached_gaussian = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    primitives = {
        "numpy": [name, keys.tolist(), int(position), int(has_gauss), float(cached_gaussian)],
        "python": [version, list(internal), gauss_next],
    }
    return tensors, primitives


def _restore_rng_states(
    experiment: Experiment, tensors: dict[str, Any], primitives: dict[str, Any]
) -> None:
    torch.set_rng_state(tensors["torch"])
    if "cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(tensors["cuda"])
    if "sampler" in tensors:
        experiment.load_sampler_state(tensors["sampler"])
    name, keys, position, has_gauss, cached_gaussian = primitives["numpy"]
    np.random.set_state(
        (name, np.asarray(keys, dtype=np.uint32), position, has_gauss, cached_gaussian)
    )
    version, internal, gauss_next = primitives["python"]
    random.setstate((version, tuple(internal), gauss_next))


def _spec_key(spec: VariantSpec) -> Any:
    """The spec as it reads back from JSON (tuples become lists), for comparison."""
    return json.loads(json.dumps(dataclasses.asdict(spec)))


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def checkpoint_state(
    experiment: Experiment,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    *,
    spec: VariantSpec,
    step: int,
    loss_evaluations: int,
    recorder: Recorder,
) -> dict[str, Any]:
    """The whole state of a run at ``step``, as :func:`save_checkpoint` writes it."""
    rng, rng_primitives = _rng_states(experiment)
    meta = {
        "spec": _spec_key(spec),
        "step": step,
        "loss_evaluations": loss_evaluations,
        "rows": recorder.rows,
        "spent": recorder.spent(),
        "validation_spent": recorder.validation,
        "rng": rng_primitives,
    }
    return {
        "model": tensor_state(model),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "rng": rng,
        "meta": json.dumps(meta),
    }


def load_checkpoint(checkpoint: Path | None, spec: VariantSpec) -> dict[str, Any] | None:
    """The state an interrupted run of *this* variant left, or None.

    A checkpoint that cannot be loaded as tensors and primitives (truncated, unreadable, or a
    pickle of arbitrary objects) is discarded with a warning, and so is one written under other
    settings (the config changed since): resuming it would silently mix two experiments.
    """
    if checkpoint is None or not checkpoint.exists():
        return None
    try:
        # On the CPU: RNG states must be CPU tensors; model and optimiser states move on loading.
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
        state["meta"] = json.loads(state["meta"])
        required = ("spec", "step", "loss_evaluations", "rows", "spent", "validation_spent", "rng")
        if not all(key in state["meta"] for key in required):
            raise KeyError(f"missing one of {required}")
    except Exception as error:  # noqa: BLE001  (whatever is wrong with it, it cannot be resumed)
        log.warning(
            "discarding %s: not a readable checkpoint (%s: %s); training starts afresh",
            checkpoint,
            type(error).__name__,
            str(error).splitlines()[0] if str(error) else "",
        )
        checkpoint.unlink(missing_ok=True)
        return None
    if state["meta"]["spec"] != _spec_key(spec):
        log.warning("discarding %s: written under other settings than this run's", checkpoint)
        checkpoint.unlink()
        return None
    return state


def restore_checkpoint(
    state: dict[str, Any],
    experiment: Experiment,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    recorder: Recorder,
) -> tuple[int, int]:
    """Put a loaded checkpoint's state back in place; returns (step, loss evaluations)."""
    meta = state["meta"]
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    _restore_rng_states(experiment, state["rng"], meta["rng"])
    recorder.rows = meta["rows"]
    recorder.earlier = meta["spent"]
    recorder.validation = meta["validation_spent"]
    return meta["step"], meta["loss_evaluations"]
