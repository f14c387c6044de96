"""The optimisation loops: a fixed budget of Adam-family steps (checkpointed, resumable), then
an optional L-BFGS phase, each stopping early at a target validation error.

The learning curve is recorded every ``training.log_every`` steps; the divergence checks run
there (and every step where reading the loss costs no device sync).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn
from tqdm import tqdm

from workflow_scripts.energy import EnergyMeter, Spent
from workflow_scripts.experiments.base import VariantSpec
from workflow_scripts.families.base import Experiment
from workflow_scripts.training import checkpoints
from workflow_scripts.training.divergence import DivergenceCheck, TrainingDiverged
from workflow_scripts.training.learning_curve import Recorder
from workflow_scripts.training.optimisers import (
    autocast,
    make_optimizer,
    make_scheduler,
    weighted_loss,
)

log = logging.getLogger(__name__)


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


class _Run:
    """What both phases share: the experiment, model and spec, the recorder, the divergence
    check, and the counters (optimiser steps taken, loss evaluations, target reached)."""

    def __init__(
        self,
        experiment: Experiment,
        model: nn.Module,
        spec: VariantSpec,
        meter: EnergyMeter,
        seed: int | None,
    ) -> None:
        self.experiment, self.model, self.spec = experiment, model, spec
        self.training = spec.training
        self.target = spec.training.get("target_val_mse")
        self.recorder = Recorder(experiment, model, meter)
        self.check = DivergenceCheck(spec, seed, model)
        self.step = 0
        self.loss_evaluations = 0
        self.reached_target = False

    def log_point(
        self, step: int, phase: str, loss_value: float, terms: dict[str, torch.Tensor]
    ) -> float:
        """Check and record a learning-curve point; note whether it reached the target."""
        self.check.logged(step, phase, loss_value, terms)
        val_mse = self.recorder.record(step, phase, loss_value, terms)
        self.check.validation_error(step, phase, loss_value, val_mse)
        if self.target is not None and val_mse <= self.target:
            self.reached_target = True
        return val_mse


def _fit(
    experiment: Experiment,
    model: nn.Module,
    spec: VariantSpec,
    meter: EnergyMeter,
    checkpoint: Path | None,
    seed: int | None,
) -> tuple[pd.DataFrame, dict[str, Any], Spent, Spent]:
    run = _Run(experiment, model, spec, meter, seed)
    resumed_from = _adam_phase(run, checkpoint)
    lbfgs_steps = 0 if run.reached_target else run.training.get("lbfgs_steps", 0)
    if lbfgs_steps:
        _lbfgs_phase(run, lbfgs_steps)
    history = pd.DataFrame(run.recorder.rows)
    counters = {
        "train_steps": run.step,
        "loss_evaluations": run.loss_evaluations,
        "reached_target": run.reached_target,
        "resumed_from_step": resumed_from,
    }
    return history, counters, run.recorder.earlier, run.recorder.validation


def _adam_phase(run: _Run, checkpoint: Path | None) -> int:
    """The Adam-family steps, resumed from ``checkpoint`` where it holds this run's state;
    returns the step it started from (0 unless resumed)."""
    experiment, model, spec, training = run.experiment, run.model, run.spec, run.training
    every = training.get("checkpoint_every") or 0
    # Reading the loss every step syncs a GPU; on the CPU it costs ~1 us a step (measured).
    loss_every_step = experiment.device.type == "cpu"
    optimizer = make_optimizer(model, training)
    scheduler = make_scheduler(optimizer, training)
    resumed_from = 0
    state = checkpoints.load_checkpoint(checkpoint, spec) if every else None
    if state is not None:
        run.step, run.loss_evaluations = checkpoints.restore_checkpoint(
            state, experiment, model, optimizer, scheduler, run.recorder
        )
        resumed_from = run.step
        log.info("resumed from %s at step %d", checkpoint, run.step)
    with tqdm(
        total=training["steps"], initial=run.step, desc=f"{spec.model} adam", mininterval=2.0
    ) as bar:
        while run.step < training["steps"]:
            with autocast(training, experiment.device):
                terms = experiment.loss_terms(model, spec)
                loss = weighted_loss(terms, spec.loss_weights)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if loss_every_step:
                run.check.loss(run.step + 1, "adam", loss.item())
            optimizer.step()
            scheduler.step()
            run.step += 1
            run.loss_evaluations += 1
            bar.update()
            step = run.step
            if step % training["log_every"] == 0 or step == training["steps"]:
                loss_value = loss.item()
                val_mse = run.log_point(step, "adam", loss_value, terms)
                bar.set_postfix(loss=f"{loss_value:.3g}", val_mse=f"{val_mse:.3g}")
                if run.reached_target:
                    break
            if checkpoint is not None and every and step % every == 0 and step < training["steps"]:
                run.check.parameters(step, "adam", loss.item())  # never save a diverged state
                checkpoints.save_checkpoint(
                    checkpoint,
                    checkpoints.checkpoint_state(
                        experiment,
                        model,
                        optimizer,
                        scheduler,
                        spec=spec,
                        step=step,
                        loss_evaluations=run.loss_evaluations,
                        recorder=run.recorder,
                    ),
                )
    return resumed_from


def _lbfgs_phase(run: _Run, lbfgs_steps: int) -> None:
    """Up to ``lbfgs_steps`` L-BFGS iterations, a learning-curve point every ``log_every``."""
    experiment, model, spec, training = run.experiment, run.model, run.spec, run.training
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
        nonlocal last_terms
        lbfgs.zero_grad(set_to_none=True)
        last_terms = experiment.loss_terms(model, spec)
        value = weighted_loss(last_terms, spec.loss_weights)
        value.backward()
        run.loss_evaluations += 1
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
            run.log_point(run.step + done, "lbfgs", loss.item(), last_terms)
            if run.reached_target:
                break
    run.step += done
