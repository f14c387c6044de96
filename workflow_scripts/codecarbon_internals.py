"""What the energy meters read of codecarbon beyond its public API, in one place, and checked.

codecarbon has no public API for how it measures the CPU (RAPL counters or a TDP estimate, and
which TDP) nor for its running totals between CSV rows, which a training's learning curve reads
while it runs. These come from its internals: the tracker's ``_hardware`` and a CPU's ``_mode``
and ``_tdp`` (:func:`describe_energy_method`, :func:`power_model`), and the tracker's
``_measure_power_and_energy_if_stale()`` and ``_total_{cpu,gpu,ram}_energy``
(:func:`running_totals_kwh`). pyproject.toml pins the codecarbon versions they were tested
with, and another codecarbon fails before any work, naming its version and what it lacks:
:func:`check_codecarbon` at config time (from the installed package's files, without importing
it: parsing the workflow imports no codecarbon), :func:`require_internals` when a meter
starts, in the job's own environment, before the stage it measures. Likewise the countries it
has a grid intensity for (:func:`national_grid_countries`), which the config check reads from
its packaged energy-mix table.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import os
import re
from typing import Any

from workflow_scripts.errors import ConfigError

# The versions the internals were tested with, as pyproject.toml pins them: from, up to (excluded).
TESTED_FROM, TESTED_BELOW = "3.3.2", "3.4"
_INSTALL = f"pip install 'codecarbon>={TESTED_FROM},<{TESTED_BELOW}'"

# Each internal read: the class that holds it, its name, and codecarbon's file that defines it.
_INTERNALS = (
    ("EmissionsTracker", "_hardware", "emissions_tracker.py"),
    ("EmissionsTracker", "_measure_power_and_energy_if_stale", "emissions_tracker.py"),
    ("EmissionsTracker", "_total_cpu_energy", "emissions_tracker.py"),
    ("EmissionsTracker", "_total_gpu_energy", "emissions_tracker.py"),
    ("EmissionsTracker", "_total_ram_energy", "emissions_tracker.py"),
    ("CPU", "_mode", "external/hardware.py"),
    ("CPU", "_tdp", "external/hardware.py"),
)

# codecarbon's national energy mixes (grid intensities), by country, inside its package.
_ENERGY_MIX_TABLE = "data/private_infra/global_energy_mix.json"

# codecarbon's CPU tracking modes, and whether their numbers are read from hardware counters.
_CPU_MODES = {
    "intel_rapl": ("RAPL energy counters", True),
    "intel_power_gadget": ("Intel Power Gadget", True),
    "cpu_load": ("load-based estimate (TDP x utilisation)", False),
    "constant": ("constant TDP estimate", False),
}


class CodecarbonMismatch(ConfigError):
    """The installed codecarbon is not one whose internals the energy meters were tested with."""


def check_codecarbon() -> None:
    """Config time: raise :class:`CodecarbonMismatch` unless the installed codecarbon is a
    tested version that still defines every internal read (found in its source files)."""
    version = importlib.metadata.version("codecarbon")
    distribution = importlib.metadata.distribution("codecarbon")
    sources: dict[str, str] = {}
    missing = []
    for holder, name, file in _INTERNALS:
        if file not in sources:
            path = distribution.locate_file(f"codecarbon/{file}")
            sources[file] = path.read_text() if os.path.exists(path) else ""
        definition = f"def {name}(" if name.startswith("_measure") else f"self.{name}"
        if definition not in sources[file]:
            missing.append(f"{holder}.{name}")
    if missing or not _release(TESTED_FROM) <= _release(version) < _release(TESTED_BELOW):
        raise _mismatch(version, missing)


def national_grid_countries() -> frozenset[str]:
    """The ISO 3166 alpha-3 codes codecarbon has a national grid intensity for: the keys of its
    energy-mix table (what its ``DataSource().get_global_energy_mix_data()`` loads), read from
    the installed package's file, since the config check runs while the workflow is parsed."""
    table = importlib.metadata.distribution("codecarbon").locate_file(
        f"codecarbon/{_ENERGY_MIX_TABLE}"
    )
    with open(table) as mixes:
        return frozenset(json.load(mixes))


def require_internals(tracker: Any) -> None:
    """When a meter starts (its tracker started, so its hardware is set up): raise
    :class:`CodecarbonMismatch` naming each internal this job's codecarbon lacks."""
    missing = [
        f"EmissionsTracker.{name}"
        for holder, name, _ in _INTERNALS
        if holder == "EmissionsTracker" and not hasattr(tracker, name)
    ]
    for device in getattr(tracker, "_hardware", []):
        if type(device).__name__ == "CPU":
            missing += [
                f"CPU.{name}"
                for holder, name, _ in _INTERNALS
                if holder == "CPU" and not hasattr(device, name)
            ]
    if missing:
        import codecarbon

        raise _mismatch(codecarbon.__version__, missing)


def _mismatch(version: str, missing: list[str]) -> CodecarbonMismatch:
    read = ", ".join(f"{holder}.{name}" for holder, name, _ in _INTERNALS)
    lacking = f"; codecarbon {version} lacks {', '.join(missing)}" if missing else ""
    return CodecarbonMismatch(
        f"codecarbon {version} is installed, but the energy meters read codecarbon internals "
        f"that no public API gives ({read}) and were tested with codecarbon >= {TESTED_FROM}, "
        f"< {TESTED_BELOW}{lacking}. Install a tested version: {_INSTALL}"
    )


def _release(version: str) -> tuple[int, ...]:
    """The release numbers of a version string: "3.4.0rc1" -> (3, 4, 0)."""
    return tuple(int(part) for part in re.findall(r"\d+", version.split("+")[0])[:3])


@dataclasses.dataclass(frozen=True)
class CpuRamPower:
    """The power model codecarbon applies on this machine: CPU TDP, RAM power, core count."""

    cpu_watts: float
    ram_watts: float
    cpu_count: int
    cpu_is_estimate: bool


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
    if not parts:  # no hardware set up: claim nothing
        parts.append("hardware not identified")
        is_estimate = True
    import codecarbon

    return f"codecarbon {codecarbon.__version__} ({'; '.join(parts)})", is_estimate


def power_model(tracker: Any) -> CpuRamPower | None:
    """codecarbon's CPU TDP, RAM power and core count on this machine, or None where it models
    no CPU of its ``CPU`` class (an Apple chip, say), or gives no usable TDP: then no
    process-attributed figure is claimed."""
    devices = {type(device).__name__: device for device in getattr(tracker, "_hardware", [])}
    cpu, ram = devices.get("CPU"), devices.get("RAM")
    if cpu is None:
        return None
    try:
        cpu_watts = float(cpu._tdp)
        ram_watts = float(ram.total_power().W) if ram is not None else 0.0
    except (TypeError, ValueError):
        return None
    # codecarbon's own count where it keeps one (the same os.cpu_count() on Linux)
    cpu_count = int(getattr(cpu, "_cpu_count", 0) or os.cpu_count() or 1)
    measured = _CPU_MODES.get(cpu._mode, ("", False))[1]
    return CpuRamPower(cpu_watts, ram_watts, cpu_count, not measured)


def running_totals_kwh(tracker: Any) -> tuple[float, float, float]:
    """The started tracker's CPU, GPU and RAM energy so far, in kWh (measured now if its last
    measurement is stale), without writing a CSV row as its public ``flush()`` would."""
    tracker._measure_power_and_energy_if_stale()
    return (
        float(tracker._total_cpu_energy.kWh),
        float(tracker._total_gpu_energy.kWh),
        float(tracker._total_ram_energy.kWh),
    )
