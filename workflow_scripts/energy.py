"""Energy and CO2 of a stage, from codecarbon's ``OfflineEmissionsTracker`` (no network).

What codecarbon reports depends on the hardware: on a CPU without RAPL it *estimates* CPU
power from the load and a per-thread TDP, and RAM power is always modelled; only RAPL and
NVML (NVIDIA GPUs) give readings. :func:`describe_energy_method` records which case a run was
in, so no estimate is ever presented as a measurement. PUE is applied by codecarbon to every
energy it reports. This module does not import torch, so jobs can start the tracker's
hardware probe while torch is still importing.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# codecarbon's CPU tracking modes, and whether their numbers are read from hardware counters.
_CPU_MODES = {
    "intel_rapl": ("RAPL energy counters", True),
    "intel_power_gadget": ("Intel Power Gadget", True),
    "cpu_load": ("load-based estimate (TDP x utilisation)", False),
    "constant": ("constant TDP estimate", False),
}


@dataclasses.dataclass(frozen=True)
class CarbonSettings:
    """The ``carbon`` block of the config."""

    country_iso_code: str = "DNK"
    grid_intensity_g_per_kwh: float | None = None
    pue: float = 1.0
    tracking_mode: str = "machine"
    measure_power_secs: float = 1.0

    @classmethod
    def from_config(cls, block: dict[str, Any]) -> CarbonSettings:
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in block.items() if k in fields})


@dataclasses.dataclass(frozen=True)
class EnergyReading:
    """Totals of one measured stage, in the units their names carry."""

    duration_s: float
    energy_kwh: float
    cpu_energy_kwh: float
    gpu_energy_kwh: float
    ram_energy_kwh: float
    co2_g: float
    grid_intensity_g_per_kwh: float
    pue: float
    energy_method: str
    energy_is_estimate: bool

    def including(self, earlier: dict[str, float]) -> EnergyReading:
        """These totals plus those of earlier segments of the same job (see
        :meth:`EnergyMeter.spent_so_far`), e.g. the part of a training run before an interruption.
        CO2 follows from the total energy at this segment's grid intensity (the same settings)."""
        energy_kwh = self.energy_kwh + earlier["energy_kwh"]
        return dataclasses.replace(
            self,
            duration_s=self.duration_s + earlier["duration_s"],
            energy_kwh=energy_kwh,
            cpu_energy_kwh=self.cpu_energy_kwh + earlier["cpu_energy_kwh"],
            gpu_energy_kwh=self.gpu_energy_kwh + earlier["gpu_energy_kwh"],
            ram_energy_kwh=self.ram_energy_kwh + earlier["ram_energy_kwh"],
            co2_g=self.co2_g + earlier["energy_kwh"] * self.grid_intensity_g_per_kwh,
        )

    def per(self, count: int) -> dict[str, float]:
        """The same totals divided by ``count`` (e.g. predictions), for per-unit costs."""
        return {
            "wall_s": self.duration_s / count,
            "energy_kwh": self.energy_kwh / count,
            "co2_g": self.co2_g / count,
        }


def describe_energy_method(tracker: Any) -> tuple[str, bool]:
    """How codecarbon got its numbers on this machine, and whether they are estimates."""
    parts = []
    is_estimate = False
    for device in getattr(tracker, "_hardware", []):
        kind = type(device).__name__
        if kind == "CPU":
            label, measured = _CPU_MODES.get(getattr(device, "_mode", ""), ("unknown mode", False))
            parts.append(f"CPU: {label}")
            is_estimate |= not measured
        elif kind == "GPU":
            parts.append("GPU: NVML readings")
        elif kind == "RAM":
            parts.append("RAM: modelled from installed memory")
            is_estimate = True
        else:
            parts.append(f"{kind}: codecarbon default")
            is_estimate = True
    if not parts:  # codecarbon's internals changed: claim nothing
        parts.append("hardware not identified")
        is_estimate = True
    import codecarbon

    return f"codecarbon {codecarbon.__version__} ({'; '.join(parts)})", is_estimate


class EnergyMeter:
    """An ``OfflineEmissionsTracker`` around one stage, writing its own CSV.

    Use as a context manager; ``reading`` holds the totals afterwards and
    :meth:`spent_so_far` gives the cumulative time and energy while it runs (learning curves).
    """

    def __init__(self, settings: CarbonSettings, output_csv: str | Path, stage: str) -> None:
        self.settings = settings
        self.output_csv = Path(output_csv)
        self.stage = stage
        self.reading: EnergyReading | None = None
        self._tracker: Any = None
        self._started = 0.0

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
        self._started = time.perf_counter()
        return self

    def spent_so_far(self) -> dict[str, float]:
        """Wall time and energies since start (kWh, by component), from the tracker's running
        totals (no public API gives them without writing CSV rows)."""
        tracker = self._tracker
        tracker._measure_power_and_energy_if_stale()
        return {
            "duration_s": time.perf_counter() - self._started,
            "energy_kwh": float(tracker._total_energy.kWh),
            "cpu_energy_kwh": float(tracker._total_cpu_energy.kWh),
            "gpu_energy_kwh": float(tracker._total_gpu_energy.kWh),
            "ram_energy_kwh": float(tracker._total_ram_energy.kWh),
        }

    def __exit__(self, *exc_info: object) -> None:
        self._tracker.stop()
        data = self._tracker.final_emissions_data
        method, is_estimate = describe_energy_method(self._tracker)
        energy = float(data.energy_consumed)
        co2_g = float(data.emissions) * 1000.0
        self.reading = EnergyReading(
            duration_s=float(data.duration),
            energy_kwh=energy,
            cpu_energy_kwh=float(data.cpu_energy),
            gpu_energy_kwh=float(data.gpu_energy),
            ram_energy_kwh=float(data.ram_energy),
            co2_g=co2_g,
            grid_intensity_g_per_kwh=co2_g / energy if energy > 0 else float("nan"),
            pue=float(data.pue),
            energy_method=method,
            energy_is_estimate=is_estimate,
        )
        log.info(
            "%s: %.3g kWh, %.3g g CO2 in %.1f s (%s)",
            self.stage,
            energy,
            co2_g,
            data.duration,
            method,
        )


def _tracker_options(settings: CarbonSettings) -> dict[str, Any]:
    options: dict[str, Any] = {
        "country_iso_code": settings.country_iso_code,
        "pue": settings.pue,
        "tracking_mode": settings.tracking_mode,
        "measure_power_secs": settings.measure_power_secs,
    }
    if settings.grid_intensity_g_per_kwh is not None:
        options["force_carbon_intensity_g_co2e_kwh"] = settings.grid_intensity_g_per_kwh
    return options


_warm_up: threading.Thread | None = None


def warm_up_energy_tracking(settings: CarbonSettings) -> None:
    """Run codecarbon's hardware probe (about 1.4 s on a 2-core VM) in the background.

    codecarbon caches the probe per process, so the tracker a job starts later skips it.
    Call this first thing in a job, before importing torch.
    """
    global _warm_up
    if _warm_up is None:
        _warm_up = threading.Thread(target=_probe_hardware, args=(settings,), daemon=True)
        _warm_up.start()


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
