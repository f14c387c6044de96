"""The energy meter: codecarbon's ``OfflineEmissionsTracker`` (no network) around one stage,
giving its :class:`~workflow_scripts.energy.record.EnergyReading`.

What it reads of codecarbon beyond its public API is in
:mod:`workflow_scripts.codecarbon_internals`, checked against the versions it was tested with.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from workflow_scripts.codecarbon_internals import (
    CpuRamPower,
    describe_energy_method,
    power_model,
    require_internals,
    running_totals_kwh,
)
from workflow_scripts.energy.attribution import attributed_energy_kwh, usage_now
from workflow_scripts.energy.record import EnergyReading, Spent
from workflow_scripts.energy.settings import CarbonSettings
from workflow_scripts.energy.warm_up import wait_for_warm_up

log = logging.getLogger(__name__)


class EnergyMeter:
    """An ``OfflineEmissionsTracker`` around one stage, writing its own CSV.

    Use as a context manager; ``reading`` holds the totals afterwards and
    :meth:`spent_so_far` gives the cumulative time and energy while it runs (learning curves).
    A block that raises leaves no CSV behind (a failed job's files must not look complete).
    """

    def __init__(self, settings: CarbonSettings, output_csv: str | Path, stage: str) -> None:
        self.settings = settings
        self.output_csv = Path(output_csv)
        self.stage = stage
        self.reading: EnergyReading | None = None
        self._tracker: Any = None
        self._started = 0.0
        self._usage = (0.0, 0.0)
        self._power: CpuRamPower | None = None
        self._method = ("", True)

    def __enter__(self) -> EnergyMeter:
        from codecarbon import OfflineEmissionsTracker, OutputMethod

        wait_for_warm_up()
        self.output_csv.parent.mkdir(parents=True, exist_ok=True)
        # One CSV per job: a stale file from a failed attempt would get rows appended.
        self.output_csv.unlink(missing_ok=True)
        self._tracker = OfflineEmissionsTracker(
            **self.settings.tracker_options(),
            output_dir=str(self.output_csv.parent),
            output_file=self.output_csv.name,
            project_name=self.stage,
            log_level="warning",
            output_methods=[OutputMethod.CSV],
        )
        self._tracker.start()
        try:  # codecarbon sets up its hardware on start
            require_internals(self._tracker)
        except Exception:
            self._tracker.stop()
            self.output_csv.unlink(missing_ok=True)
            raise
        self._method = describe_energy_method(self._tracker)
        self._power = power_model(self._tracker)
        self._started = time.perf_counter()
        self._usage = usage_now()
        return self

    def _totals(self, duration_s: float, cpu: float, gpu: float, ram: float) -> EnergyReading:
        cpu_time_s, busy_s = (
            now - then for now, then in zip(usage_now(), self._usage, strict=True)
        )
        process = None
        if self._power is not None:
            process = attributed_energy_kwh(
                cpu_energy_kwh=cpu,
                gpu_energy_kwh=gpu,
                cpu_time_s=cpu_time_s,
                machine_busy_cpu_s=busy_s,
                power=self._power,
            )
        return EnergyReading(
            duration_s=duration_s,
            energy_machine_kwh=cpu + gpu + ram,
            cpu_energy_kwh=cpu,
            gpu_energy_kwh=gpu,
            ram_energy_kwh=ram,
            process_energy_kwh=process,
            cpu_time_s=cpu_time_s,
            machine_busy_cpu_s=busy_s,
            energy_method=self._method[0],
            energy_is_estimate=self._method[1],
        )

    def spent_so_far(self) -> Spent:
        """Wall time, energies (kWh, by component, machine-wide and process-attributed) and CPU
        times since start, from the tracker's running totals."""
        reading = self._totals(
            time.perf_counter() - self._started, *running_totals_kwh(self._tracker)
        )
        return reading.spent()

    def __exit__(self, exc_type: object, *exc_info: object) -> None:
        self._tracker.stop()
        if exc_type is not None:
            self.output_csv.unlink(missing_ok=True)
            return
        data = self._tracker.final_emissions_data
        self.reading = self._totals(
            float(data.duration),
            float(data.cpu_energy),
            float(data.gpu_energy),
            float(data.ram_energy),
        )
        log.info(
            "%s: %.3g kWh (%s; machine-wide %.3g kWh), CPU time %.1f s, others' load %.2f "
            "cores, in %.1f s (%s)",
            self.stage,
            self.reading.energy_kwh,
            self.reading.energy_figure,
            self.reading.energy_machine_kwh,
            self.reading.cpu_time_s,
            self.reading.others_cpu_load,
            self.reading.duration_s,
            self.reading.energy_method,
        )
