"""Energy of a stage, from codecarbon's ``OfflineEmissionsTracker`` (no network), and the CO2
derived from it at the summary.

What codecarbon reports depends on the hardware: on a CPU without RAPL it *estimates* CPU
power from the load and a per-thread TDP, and RAM power is always modelled; only RAPL and
NVML (NVIDIA GPUs) give readings. :func:`describe_energy_method` records which case a run was
in, so no estimate is ever presented as a measurement.

Measured jobs store energy only, without PUE (the tracker runs at PUE 1) and without CO2:
:func:`co2_g` applies PUE and grid intensity at the summary, so a changed PUE or grid intensity
re-runs the summary, never a measured job.

codecarbon's machine-wide load estimate counts every process on the machine. Beside it, each
reading carries the job's own CPU time (process + waited children, user + system), the
machine's busy CPU time over the job, and a *process-attributed* energy derived from the job's
own use (see :func:`attributed_energy_kwh`), which others' load does not inflate.

What it reads of codecarbon beyond its public API is in
:mod:`workflow_scripts.codecarbon_internals`, checked against the versions it was tested with.
This module does not import torch, so jobs can start the tracker's hardware probe while torch
is still importing.
"""

from __future__ import annotations

import dataclasses
import logging
import resource
import threading
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
from workflow_scripts.errors import ConfigError

log = logging.getLogger(__name__)

_JOULES_PER_KWH = 3.6e6

# Names of the energy figure the analysis uses (the ``*_energy_figure`` columns).
PROCESS_ATTRIBUTED = "process-attributed estimate"
MACHINE_READING = "machine-wide reading"
MACHINE_ESTIMATE = "machine-wide estimate"


@dataclasses.dataclass(frozen=True)
class CarbonSettings:
    """The ``carbon`` block of the config.

    Energy meters read only ``tracking_mode`` and ``measure_power_secs`` (the measured rules'
    params); ``country_iso_code`` only labels codecarbon's own CSV. PUE and grid intensity are
    applied by :func:`co2_g` at the summary; ``shared_load_threshold`` (cores' worth of other
    processes' CPU use, averaged over a job) flags jobs that shared the machine.
    """

    country_iso_code: str = "DNK"
    grid_intensity_g_per_kwh: float | None = None
    pue: float = 1.0
    tracking_mode: str = "machine"
    measure_power_secs: float = 1.0
    shared_load_threshold: float = 0.5

    @classmethod
    def from_config(cls, block: dict[str, Any]) -> CarbonSettings:
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in block.items() if k in fields})


# Settings an energy meter's numbers depend on: the measured rules' params (rules/common.smk).
METER_FIELDS = ("tracking_mode", "measure_power_secs")


def grid_intensity_g_per_kwh(settings: CarbonSettings) -> float:
    """The forced grid intensity, else codecarbon's national figure for ``country_iso_code``
    (its offline energy-mix table, as its offline tracker uses it, no network)."""
    if settings.grid_intensity_g_per_kwh is not None:
        return float(settings.grid_intensity_g_per_kwh)
    from codecarbon.core.emissions import Emissions
    from codecarbon.core.units import Energy
    from codecarbon.external.geography import GeoMetadata
    from codecarbon.input import DataSource

    source = DataSource()
    country = settings.country_iso_code.upper()
    if country not in source.get_global_energy_mix_data():
        raise ConfigError(
            f"config key 'carbon.country_iso_code': codecarbon has no grid intensity for "
            f"{settings.country_iso_code!r}; set carbon.grid_intensity_g_per_kwh instead"
        )
    kg = Emissions(source).get_country_emissions(
        Energy.from_energy(kWh=1.0), GeoMetadata(country_iso_code=country)
    )
    return float(kg) * 1000.0


def co2_g(energy_kwh: float, settings: CarbonSettings, intensity: float | None = None) -> float:
    """CO2 of an IT energy: energy x PUE (the facility's overhead) x grid intensity."""
    if intensity is None:
        intensity = grid_intensity_g_per_kwh(settings)
    return energy_kwh * settings.pue * intensity


def attributed_energy_kwh(
    *,
    cpu_energy_kwh: float,
    gpu_energy_kwh: float,
    cpu_time_s: float,
    machine_busy_cpu_s: float,
    power: CpuRamPower,
) -> float:
    """The energy attributed to the job from its own resource use.

    - CPU, where codecarbon estimates it (no RAPL): CPU time x TDP / cores, as codecarbon's
      ``process`` tracking mode models it (no idle floor: idle power is nobody's job). Where
      RAPL reads it: the reading x the job's share of the machine's busy CPU time.
    - RAM (always modelled): CPU time x RAM power / cores, i.e. RAM power x wall time x the
      job's share of the machine's cores (CPU time / (cores x wall time)).
    - GPU: NVML's reading, as is (the device is the job's).
    """
    if power.cpu_is_estimate:
        cpu = cpu_time_s * power.cpu_watts / power.cpu_count / _JOULES_PER_KWH
    else:
        share = min(1.0, cpu_time_s / machine_busy_cpu_s) if machine_busy_cpu_s > 0 else 1.0
        cpu = cpu_energy_kwh * share
    ram = cpu_time_s * power.ram_watts / power.cpu_count / _JOULES_PER_KWH
    return cpu + gpu_energy_kwh + ram


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

    def including(self, earlier: dict[str, float | None]) -> EnergyReading:
        """These totals plus those of earlier segments of the same job (see
        :meth:`EnergyMeter.spent_so_far`), e.g. the part of a training run before an
        interruption."""
        process = self.process_energy_kwh
        if process is not None and earlier.get("process_energy_kwh") is not None:
            process += earlier["process_energy_kwh"]  # type: ignore[operator]
        elif earlier.get("duration_s"):
            process = None  # an earlier segment without attribution: claim none
        return dataclasses.replace(
            self,
            duration_s=self.duration_s + earlier["duration_s"],
            energy_machine_kwh=self.energy_machine_kwh + earlier["energy_machine_kwh"],
            cpu_energy_kwh=self.cpu_energy_kwh + earlier["cpu_energy_kwh"],
            gpu_energy_kwh=self.gpu_energy_kwh + earlier["gpu_energy_kwh"],
            ram_energy_kwh=self.ram_energy_kwh + earlier["ram_energy_kwh"],
            process_energy_kwh=process,
            cpu_time_s=self.cpu_time_s + earlier["cpu_time_s"],
            machine_busy_cpu_s=self.machine_busy_cpu_s + earlier["machine_busy_cpu_s"],
        )

    def fields(self, prefix: str, shared_load_threshold: float) -> dict[str, Any]:
        """The reading as ``{prefix}_...`` entries of a job's JSON (train.json, data.json)."""
        return {
            f"{prefix}_wall_s": self.duration_s,
            f"{prefix}_energy_kwh": self.energy_kwh,
            f"{prefix}_energy_machine_kwh": self.energy_machine_kwh,
            f"{prefix}_energy_process_kwh": self.process_energy_kwh,
            f"{prefix}_energy_figure": self.energy_figure,
            f"{prefix}_cpu_energy_kwh": self.cpu_energy_kwh,
            f"{prefix}_gpu_energy_kwh": self.gpu_energy_kwh,
            f"{prefix}_ram_energy_kwh": self.ram_energy_kwh,
            f"{prefix}_cpu_time_s": self.cpu_time_s,
            f"{prefix}_others_cpu_load": self.others_cpu_load,
            f"{prefix}_shared_machine": self.others_cpu_load > shared_load_threshold,
        }

    def per(self, count: int) -> dict[str, float]:
        """Per-unit costs (e.g. per prediction): the analysis and machine-wide energies."""
        return {
            "wall_s": self.duration_s / count,
            "energy_kwh": self.energy_kwh / count,
            "energy_machine_kwh": self.energy_machine_kwh / count,
            "cpu_time_s": self.cpu_time_s / count,
        }


def usage_now() -> tuple[float, float]:
    """(this process's CPU time incl. waited children, the machine's busy CPU time), seconds."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_time_s = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
    import psutil

    machine = psutil.cpu_times()._asdict()
    # guest time is already counted in user time; idle and I/O wait are not work
    idle = {"idle", "iowait", "guest", "guest_nice"}
    return cpu_time_s, sum(v for k, v in machine.items() if k not in idle)


NOTHING_SPENT: dict[str, float | None] = {
    "duration_s": 0.0,
    "energy_kwh": 0.0,
    "energy_machine_kwh": 0.0,
    "cpu_energy_kwh": 0.0,
    "gpu_energy_kwh": 0.0,
    "ram_energy_kwh": 0.0,
    "process_energy_kwh": 0.0,
    "cpu_time_s": 0.0,
    "machine_busy_cpu_s": 0.0,
}


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

        _wait_for_warm_up()
        self.output_csv.parent.mkdir(parents=True, exist_ok=True)
        # One CSV per job: a stale file from a failed attempt would get rows appended.
        self.output_csv.unlink(missing_ok=True)
        self._tracker = OfflineEmissionsTracker(
            **_tracker_options(self.settings),
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

    def spent_so_far(self) -> dict[str, float | None]:
        """Wall time, energies (kWh, by component, machine-wide and process-attributed) and CPU
        times since start, from the tracker's running totals. Keys as :data:`NOTHING_SPENT`."""
        reading = self._totals(
            time.perf_counter() - self._started, *running_totals_kwh(self._tracker)
        )
        return spent_of(reading)

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


def spent_of(reading: EnergyReading) -> dict[str, float | None]:
    """A reading as the cumulative dict of :data:`NOTHING_SPENT` (learning curves, resumes)."""
    return {
        "duration_s": reading.duration_s,
        "energy_kwh": reading.energy_kwh,
        "energy_machine_kwh": reading.energy_machine_kwh,
        "cpu_energy_kwh": reading.cpu_energy_kwh,
        "gpu_energy_kwh": reading.gpu_energy_kwh,
        "ram_energy_kwh": reading.ram_energy_kwh,
        "process_energy_kwh": reading.process_energy_kwh,
        "cpu_time_s": reading.cpu_time_s,
        "machine_busy_cpu_s": reading.machine_busy_cpu_s,
    }


def _tracker_options(settings: CarbonSettings) -> dict[str, Any]:
    # PUE 1: the meter stores IT energy; PUE is applied at the summary (co2_g).
    return {
        "country_iso_code": settings.country_iso_code,
        "pue": 1.0,
        "tracking_mode": settings.tracking_mode,
        "measure_power_secs": settings.measure_power_secs,
    }


_warm_up: threading.Thread | None = None


def warm_up_energy_tracking(settings: CarbonSettings | None = None, *, wait: bool = False) -> None:
    """Run codecarbon's hardware probe (about 1.4 s on a 2-core VM) in the background.

    codecarbon caches the probe per process (and a forked child inherits it), so the tracker a
    job starts later skips it. Call this first thing in a job, before importing torch.
    """
    global _warm_up
    if _warm_up is None:
        _warm_up = threading.Thread(
            target=_probe_hardware, args=(settings or CarbonSettings(),), daemon=True
        )
        _warm_up.start()
    if wait:
        _wait_for_warm_up()


def _probe_hardware(settings: CarbonSettings) -> None:
    from codecarbon import OfflineEmissionsTracker

    tracker = OfflineEmissionsTracker(
        **_tracker_options(settings), output_methods=[], log_level="error"
    )
    tracker.start()
    tracker.stop()


def _wait_for_warm_up() -> None:
    if _warm_up is not None:
        _warm_up.join()
