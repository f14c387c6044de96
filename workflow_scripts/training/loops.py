"""The training stage, the same for every experiment and variant.

A fixed budget of optimiser steps (equal across the variants of an experiment, so energy to
reach an accuracy is comparable), an optional L-BFGS phase, an optional early stop at a
target validation error, and a learning curve of validation error against cumulative training
energy. Training never reads the test set; what the in-loop validation spends is measured
apart and left out of the training totals.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import random
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm import tqdm

from workflow_scripts.energy import NOTHING_SPENT, CarbonSettings, EnergyMeter, EnergyReading
from workflow_scripts.experiments.base import VariantSpec
from workflow_scripts.families.base import Experiment
from workflow_scripts.families.runs import open_experiment
from workflow_scripts.files import atomic_path, write_json
from workflow_scripts.measurement import (
    count_flops,
    count_parameters,
    describe_device,
    peak_memory_mb,
    synchronize,
)

log = logging.getLogger(__name__)


class TrainingDiverged(RuntimeError):
    """A loss, loss term, validation error or parameter became NaN or infinite; the message
    names the variant, the seed, the step and the loss."""


@dataclasses.dataclass(frozen=True)
class TrainOutputs:
    model: Path
    history: Path
    emissions: Path
    summary: Path


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


def checkpoint_path(model_output: Path) -> Path:
    """Where an interrupted run's state waits: beside the model, never a Snakemake output."""
    return Path(model_output).with_name("checkpoint.pt")


# A checkpoint holds tensors and one JSON string, so that it loads with
# torch.load(weights_only=True): a pickled object in a crafted file is refused, never run.


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


def tensor_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The model's tensors only: neuraloperator adds a ``_metadata`` dict of init arguments
    (functions among them), which ``torch.load(weights_only=True)`` refuses."""
    return {k: v for k, v in model.state_dict().items() if isinstance(v, torch.Tensor)}


def _spec_key(spec: VariantSpec) -> Any:
    """The spec as it reads back from JSON (tuples become lists), for comparison."""
    return json.loads(json.dumps(dataclasses.asdict(spec)))


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def _checkpoint_state(
    experiment: Experiment,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    *,
    spec: VariantSpec,
    step: int,
    loss_evaluations: int,
    recorder: _Recorder,
) -> dict[str, Any]:
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


def _load_checkpoint(checkpoint: Path | None, spec: VariantSpec) -> dict[str, Any] | None:
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


def _autocast(training: dict[str, Any], device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast of the forward/loss on CUDA when ``training.amp: bf16``; a no-op else."""
    if training.get("amp", "none") == "bf16" and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


Spent = dict[str, float | None]  # keys as NOTHING_SPENT; None: not known


def _combined(a: Spent, b: Spent, sign: float = 1.0) -> Spent:
    """a + sign·b, key by key; unknown where either is."""
    return {
        key: None if a[key] is None or b[key] is None else a[key] + sign * b[key]
        for key in NOTHING_SPENT
    }


def _without(reading: EnergyReading, part: Spent) -> EnergyReading:
    """A reading less a part of what it measured: ``including`` that part negated."""
    return reading.including({key: None if v is None else -v for key, v in part.items()})


class _Recorder:
    """Collects learning-curve rows: step, loss terms, validation error, and the time and
    energy training has spent so far.

    Each validation evaluation is measured on its own (``validation``, cumulative) and left out
    of the curve's time and energy, which are the training's alone. ``earlier`` holds what the
    segments of the run before a resume spent in all, so both stay cumulative across an
    interruption.
    """

    def __init__(self, experiment: Experiment, model: nn.Module, meter: EnergyMeter) -> None:
        self.experiment, self.model, self.meter = experiment, model, meter
        self.rows: list[dict[str, Any]] = []
        self.earlier: Spent = dict(NOTHING_SPENT)
        self.validation: Spent = dict(NOTHING_SPENT)

    def spent(self) -> Spent:
        """Wall time, energy and CPU time of the whole run so far (training and validation),
        earlier segments included."""
        return _combined(self.earlier, self.meter.spent_so_far())

    def record(self, step: int, phase: str, loss: float, terms: dict[str, torch.Tensor]) -> float:
        synchronize(self.experiment.device)  # the training's queued work is not validation's
        before = self.meter.spent_so_far()
        val_mse = self.experiment.val_mse(self.model)
        synchronize(self.experiment.device)
        after = self.meter.spent_so_far()
        self.validation = _combined(self.validation, _combined(after, before, -1.0))
        training = _combined(_combined(self.earlier, after), self.validation, -1.0)
        self.rows.append(
            {
                "step": step,
                "phase": phase,
                "loss": loss,
                **{f"loss_{name}": value.item() for name, value in terms.items()},
                "val_mse": val_mse,
                "elapsed_s": training["duration_s"],
                # the analysis figure (process-attributed where an estimate), and codecarbon's
                "energy_kwh": training["energy_kwh"],
                "energy_machine_kwh": training["energy_machine_kwh"],
                "cpu_time_s": training["cpu_time_s"],
            }
        )
        return val_mse


class _DivergenceCheck:
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


def fit(
    experiment: Experiment,
    model: nn.Module,
    spec: VariantSpec,
    meter: EnergyMeter,
    checkpoint: Path | None = None,
    *,
    seed: int | None = None,
) -> tuple[pd.DataFrame, dict[str, Any], Spent, Spent]:
    """Train ``model`` within the budget of ``spec.training``.

    Returns the history, the counters, what the run spent before a resume in all (zeros if
    none), and what its validation evaluations spent (all segments), which ``meter`` counted
    too. Raises :class:`TrainingDiverged` (naming ``seed``) if the loss, a loss term, the
    validation error or a parameter becomes NaN or infinite, in the Adam and the L-BFGS phase;
    the checkpoint is then removed.

    With ``checkpoint`` and ``training.checkpoint_every`` > 0, the Adam phase saves its whole
    state there every that many steps and resumes from it when it exists, so an interrupted
    and re-run job ends where an uninterrupted one does. Counters then include
    ``resumed_from_step``, and the third value is what the run had spent up to that checkpoint
    (steps redone after it count once: their first attempt was lost work; so do validations).
    """
    try:
        return _fit(experiment, model, spec, meter, checkpoint, seed)
    except TrainingDiverged:
        if checkpoint is not None:
            checkpoint.unlink(missing_ok=True)  # holds a run that diverges: nothing to resume
        raise


def _fit(
    experiment: Experiment,
    model: nn.Module,
    spec: VariantSpec,
    meter: EnergyMeter,
    checkpoint: Path | None,
    seed: int | None,
) -> tuple[pd.DataFrame, dict[str, Any], Spent, Spent]:
    training = spec.training
    weights = spec.loss_weights
    target = training.get("target_val_mse")
    every = training.get("checkpoint_every") or 0
    recorder = _Recorder(experiment, model, meter)
    check = _DivergenceCheck(spec, seed, model)
    # Reading the loss every step syncs a GPU; on the CPU it costs ~1 us a step (measured).
    loss_every_step = experiment.device.type == "cpu"
    optimizer = make_optimizer(model, training)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: learning_rate_factor(step, training)
    )
    loss_evaluations = 0
    reached_target = False
    step = 0
    resumed_from = 0  # the step this run started from: 0 unless resumed from a checkpoint
    state = _load_checkpoint(checkpoint, spec) if every else None
    if state is not None:
        meta = state["meta"]
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        _restore_rng_states(experiment, state["rng"], meta["rng"])
        recorder.rows = meta["rows"]
        recorder.earlier = meta["spent"]
        recorder.validation = meta["validation_spent"]
        step = resumed_from = meta["step"]
        loss_evaluations = meta["loss_evaluations"]
        log.info("resumed from %s at step %d", checkpoint, step)
    with tqdm(
        total=training["steps"], initial=step, desc=f"{spec.model} adam", mininterval=2.0
    ) as bar:
        while step < training["steps"]:
            with _autocast(training, experiment.device):
                terms = experiment.loss_terms(model, spec)
                loss = weighted_loss(terms, weights)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if loss_every_step:
                check.loss(step + 1, "adam", loss.item())
            optimizer.step()
            scheduler.step()
            step += 1
            loss_evaluations += 1
            bar.update()
            if step % training["log_every"] == 0 or step == training["steps"]:
                loss_value = loss.item()
                check.logged(step, "adam", loss_value, terms)
                val_mse = recorder.record(step, "adam", loss_value, terms)
                check.validation_error(step, "adam", loss_value, val_mse)
                bar.set_postfix(loss=f"{loss_value:.3g}", val_mse=f"{val_mse:.3g}")
                if target is not None and val_mse <= target:
                    reached_target = True
                    break
            if checkpoint is not None and every and step % every == 0 and step < training["steps"]:
                check.parameters(step, "adam", loss.item())  # never save a diverged state
                save_checkpoint(
                    checkpoint,
                    _checkpoint_state(
                        experiment,
                        model,
                        optimizer,
                        scheduler,
                        spec=spec,
                        step=step,
                        loss_evaluations=loss_evaluations,
                        recorder=recorder,
                    ),
                )

    lbfgs_steps = 0 if reached_target else training.get("lbfgs_steps", 0)
    if lbfgs_steps:
        lbfgs = torch.optim.LBFGS(
            model.parameters(),
            lr=1.0,
            max_iter=min(training["log_every"], lbfgs_steps),
            history_size=50,
            tolerance_grad=0.0,
            tolerance_change=0.0,
            line_search_fn="strong_wolfe",
        )
        last_terms: dict[str, torch.Tensor] = {}

        def closure() -> torch.Tensor:
            nonlocal loss_evaluations, last_terms
            lbfgs.zero_grad(set_to_none=True)
            last_terms = experiment.loss_terms(model, spec)
            value = weighted_loss(last_terms, weights)
            value.backward()
            loss_evaluations += 1
            return value

        done = 0
        with tqdm(total=lbfgs_steps, desc=f"{spec.model} lbfgs", mininterval=2.0) as bar:
            while done < lbfgs_steps:
                lbfgs.param_groups[0]["max_iter"] = min(training["log_every"], lbfgs_steps - done)
                before = lbfgs.state[lbfgs._params[0]].get("n_iter", 0)
                loss = lbfgs.step(closure)
                iterations = lbfgs.state[lbfgs._params[0]].get("n_iter", 0) - before
                done += max(1, iterations)
                bar.update(max(1, iterations))
                check.logged(step + done, "lbfgs", loss.item(), last_terms)
                val_mse = recorder.record(step + done, "lbfgs", loss.item(), last_terms)
                check.validation_error(step + done, "lbfgs", loss.item(), val_mse)
                if target is not None and val_mse <= target:
                    reached_target = True
                    break
        step += done

    history = pd.DataFrame(recorder.rows)
    counters = {
        "train_steps": step,
        "loss_evaluations": loss_evaluations,
        "reached_target": reached_target,
        "resumed_from_step": resumed_from,
    }
    return history, counters, recorder.earlier, recorder.validation


def train_variant(
    spec: VariantSpec,
    *,
    seed: int,
    data_path: Path,
    outputs: TrainOutputs,
    carbon: CarbonSettings,
    device_name: str = "auto",
    threads: int | None = None,
) -> dict[str, Any]:
    """Train one (variant, seed), writing checkpoint, history, emissions and train.json.

    A diverging run raises :class:`TrainingDiverged` and writes none of them.
    """
    experiment = open_experiment(
        spec, seed=seed, data_path=data_path, device_name=device_name, threads=threads
    )
    device = experiment.device
    model = experiment.build_model(spec)
    n_parameters = count_parameters(model)  # real numbers: a complex weight counts twice
    log.info(
        "%s/%s seed %d: %d parameters on %s",
        spec.experiment,
        spec.model,
        seed,
        n_parameters,
        device,
    )

    flops_per_step = count_flops(
        lambda: weighted_loss(experiment.loss_terms(model, spec), spec.loss_weights).backward()
    )
    model.zero_grad(set_to_none=True)

    checkpoint = checkpoint_path(outputs.model)
    with EnergyMeter(carbon, outputs.emissions, stage="train") as meter:
        history, counters, earlier, validation = fit(
            experiment, model, spec, meter, checkpoint, seed=seed
        )
        synchronize(device)
    assert meter.reading is not None
    # A resumed run's totals cover all its segments; the training's leave its validations out.
    reading = _without(meter.reading.including(earlier), validation)

    with atomic_path(outputs.model) as tmp:
        torch.save({"state_dict": tensor_state(model), "spec": dataclasses.asdict(spec)}, tmp)
    with atomic_path(outputs.history) as tmp:
        history.to_csv(tmp, index=False)

    memory_mb, memory_kind = peak_memory_mb(device)
    reached = (
        history[history["val_mse"] <= spec.training["target_val_mse"]]
        if (spec.training.get("target_val_mse") is not None)
        else history.iloc[0:0]
    )
    summary = {
        "experiment": spec.experiment,
        "model": spec.model,
        "physics_bias": spec.physics_bias,
        "seed": seed,
        "n_parameters": n_parameters,
        "flops_per_train_step": flops_per_step,
        "train_flops_total": flops_per_step * counters["loss_evaluations"],
        **counters,
        # The learning curve's last point, on the validation set (the test error is the
        # evaluate stage's).
        "final_val_mse": float(history["val_mse"].iloc[-1]),
        # Energy without PUE and CO2: the summary applies carbon.pue and the grid intensity.
        # train_*: the training alone; validation_*: its in-loop evaluations, apart.
        **reading.fields("train", carbon.shared_load_threshold),
        "validation_wall_s": validation["duration_s"],
        "validation_energy_kwh": validation["energy_kwh"],
        "shared_load_threshold": carbon.shared_load_threshold,
        "energy_to_target_kwh": float(reached["energy_kwh"].iloc[0]) if len(reached) else None,
        "energy_method": reading.energy_method,
        "energy_is_estimate": reading.energy_is_estimate,
        "peak_memory_mb": memory_mb,
        "peak_memory_kind": memory_kind,
        "device": describe_device(device),
        "threads": torch.get_num_threads(),
        "torch_version": torch.__version__,
        "spec": dataclasses.asdict(spec),
    }
    write_json(outputs.summary, summary)
    checkpoint.unlink(missing_ok=True)  # complete: a re-run must start afresh
    return summary
