"""The energy record: what one measured stage spent, as every stage's JSON and the summary
name it, whether the job shared the machine, and the lifecycle sum over a variant's stages.

A reading's totals exclude PUE; CO2 is derived at the summary
(:func:`~workflow_scripts.energy.grid.co2_g`).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

# Names of the energy figure the analysis uses (the ``*_energy_figure`` columns).
PROCESS_ATTRIBUTED = "process-attributed estimate"
MACHINE_READING = "machine-wide reading"
MACHINE_ESTIMATE = "machine-wide estimate"


@dataclasses.dataclass(frozen=True)
class EnergyReading:
    """Totals of one measured stage, in the units their names carry, all without PUE.

    ``energy_machine_kwh`` is codecarbon's figure (machine-wide in its ``machine`` mode);
    ``process_energy_kwh`` the process-attributed one (None where codecarbon's power model was
    not found); ``energy_kwh`` the one the analysis uses: process-attributed where the energy
    is an estimate, the reading where it is measured.
    """

    duration_s: float
    energy_machine_kwh: float
    cpu_energy_kwh: float
    gpu_energy_kwh: float
    ram_energy_kwh: float
    process_energy_kwh: float | None
    cpu_time_s: float
    machine_busy_cpu_s: float
    energy_method: str
    energy_is_estimate: bool

    @property
    def energy_figure(self) -> str:
        if not self.energy_is_estimate:
            return MACHINE_READING
        return MACHINE_ESTIMATE if self.process_energy_kwh is None else PROCESS_ATTRIBUTED

    @property
    def energy_kwh(self) -> float:
        if self.energy_figure == PROCESS_ATTRIBUTED:
            return float(self.process_energy_kwh)  # type: ignore[arg-type]
        return self.energy_machine_kwh

    @property
    def others_cpu_load(self) -> float:
        """Other processes' mean CPU use over the job, in cores (busy CPU time not the job's)."""
        if self.duration_s <= 0:
            return 0.0
        return max(0.0, (self.machine_busy_cpu_s - self.cpu_time_s) / self.duration_s)

    def spent(self) -> Spent:
        """The reading as a cumulative spend (keys as :data:`NOTHING_SPENT`)."""
        return {key: getattr(self, key) for key in SPENT_KEYS}

    def including(self, earlier: Spent) -> EnergyReading:
        """These totals plus those of earlier segments of the same job (see
        :meth:`EnergyMeter.spent_so_far`), e.g. the part of a training run before an
        interruption."""
        process = self.process_energy_kwh
        if process is not None and earlier.get("process_energy_kwh") is not None:
            process += earlier["process_energy_kwh"]  # type: ignore[operator]
        elif earlier.get("duration_s"):
            process = None  # an earlier segment without attribution: claim none
        summed = {
            key: getattr(self, key) + earlier[key] for key in TOTALS if key != "process_energy_kwh"
        }
        return dataclasses.replace(self, **summed, process_energy_kwh=process)

    def entries(
        self,
        stage: str,
        shared_load_threshold: float,
        per_unit: tuple[str, int] | None = None,
    ) -> dict[str, Any]:
        """The reading as entries of its stage's JSON (train.json's ``train_*``, a data stage's
        ``data_*``, metrics.json's ``inference_*``), with the shared-machine flag, the
        threshold it was judged by and how the energy was obtained.

        ``per_unit``: (unit, count) for a stage that repeats one unit of work ``count`` times
        (inference: a prediction). It keeps the figures of :data:`COSTS`, each in total
        (``_total``) and per unit (``_per_{unit}``), since a cost per unit is what compares.
        """
        if per_unit is None:
            figures = {f"{stage}_{stem}": getattr(self, name) for stem, name in _ENTRIES.items()}
        else:
            unit, count = per_unit
            totals = {stem: getattr(self, _ENTRIES[stem]) for stem in COSTS}
            figures = {
                **{f"{stage}_{stem}_total": value for stem, value in totals.items()},
                f"{stage}_others_cpu_load": self.others_cpu_load,
                f"{stage}_energy_figure": self.energy_figure,
                **{f"{stage}_{stem}_per_{unit}": value / count for stem, value in totals.items()},
            }
        return {
            **figures,
            f"{stage}_shared_machine": shared_machine(self.others_cpu_load, shared_load_threshold),
            "shared_load_threshold": shared_load_threshold,
            "energy_method": self.energy_method,
            "energy_is_estimate": self.energy_is_estimate,
        }


Spent = dict[str, float | None]  # a cumulative spend, keys as NOTHING_SPENT; None: not known

# The reading's fields that add up over segments of a job (the rest describe the method).
TOTALS = tuple(
    field.name
    for field in dataclasses.fields(EnergyReading)
    if field.name not in ("energy_method", "energy_is_estimate")
)
# A spend: the totals and the analysis figure they make (learning curves, resumes).
SPENT_KEYS = ("energy_kwh", *TOTALS)
NOTHING_SPENT: Spent = dict.fromkeys(SPENT_KEYS, 0.0)

# A stage's JSON entries, ``{stage}_{stem}``: stem -> the reading's attribute, in file order.
_ENTRIES = {
    "wall_s": "duration_s",
    "energy_kwh": "energy_kwh",
    "energy_machine_kwh": "energy_machine_kwh",
    "energy_process_kwh": "process_energy_kwh",
    "energy_figure": "energy_figure",
    "cpu_energy_kwh": "cpu_energy_kwh",
    "gpu_energy_kwh": "gpu_energy_kwh",
    "ram_energy_kwh": "ram_energy_kwh",
    "cpu_time_s": "cpu_time_s",
    "others_cpu_load": "others_cpu_load",
}
# The figures costs are compared by: per unit of a stage that repeats one (inference: per
# prediction), summed over an experiment's data stages (the summary).
COSTS = ("wall_s", "energy_kwh", "energy_machine_kwh", "cpu_time_s")


def shared_machine(others_cpu_load: Any, shared_load_threshold: float) -> Any:
    """Whether a job shared the machine: other processes used more than
    ``shared_load_threshold`` cores on average over it (``carbon.shared_load_threshold``).
    Also for a table's column of loads, as the summary judges recorded jobs again by the
    threshold configured now."""
    return others_cpu_load > shared_load_threshold


def lifecycle(runs: pd.DataFrame, quantity: str, predictions: float) -> pd.Series:
    """A variant's lifecycle ``quantity`` (``energy_kwh``, ``co2_g``) from a run table's
    columns: its data (charged in full to each variant, since each needs it) + its training +
    ``predictions`` x one prediction."""
    return (
        runs[f"data_{quantity}"]
        + runs[f"train_{quantity}"]
        + predictions * runs[f"inference_{quantity}_per_prediction"]
    )
