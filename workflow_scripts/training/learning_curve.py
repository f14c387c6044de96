"""The learning curve: validation error against the time and energy the training has spent,
with what the in-loop validation spends measured apart and left out of the training's."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from workflow_scripts.energy import NOTHING_SPENT, EnergyMeter, EnergyReading, Spent
from workflow_scripts.families.base import Experiment
from workflow_scripts.measurement import synchronize


def combined(a: Spent, b: Spent, sign: float = 1.0) -> Spent:
    """a + sign·b, key by key; unknown where either is."""
    return {
        key: None if a[key] is None or b[key] is None else a[key] + sign * b[key]
        for key in NOTHING_SPENT
    }


def without(reading: EnergyReading, part: Spent) -> EnergyReading:
    """A reading less a part of what it measured: ``including`` that part negated."""
    return reading.including({key: None if v is None else -v for key, v in part.items()})


class Recorder:
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
        return combined(self.earlier, self.meter.spent_so_far())

    def record(self, step: int, phase: str, loss: float, terms: dict[str, torch.Tensor]) -> float:
        synchronize(self.experiment.device)  # the training's queued work is not validation's
        before = self.meter.spent_so_far()
        val_mse = self.experiment.val_mse(self.model)
        synchronize(self.experiment.device)
        after = self.meter.spent_so_far()
        self.validation = combined(self.validation, combined(after, before, -1.0))
        training = combined(combined(self.earlier, after), self.validation, -1.0)
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
