"""Energy of a stage, from codecarbon's ``OfflineEmissionsTracker`` (no network), and the CO2
derived from it at the summary.

What codecarbon reports depends on the hardware: on a CPU without RAPL it *estimates* CPU
power from the load and a per-thread TDP, and RAM power is always modelled; only RAPL and
NVML (NVIDIA GPUs) give readings. The meter records which case a run was in
(:func:`~workflow_scripts.codecarbon_internals.describe_energy_method`), so no estimate is ever
presented as a measurement.

Measured jobs store energy only, without PUE (the tracker runs at PUE 1) and without CO2:
:func:`co2_g` applies PUE and grid intensity at the summary, so a changed PUE or grid intensity
re-runs the summary, never a measured job.

codecarbon's machine-wide load estimate counts every process on the machine. Beside it, each
reading carries the job's own CPU time (process + waited children, user + system), the
machine's busy CPU time over the job, and a *process-attributed* energy derived from the job's
own use, which others' load does not inflate.

One concern a module, each importing only those below it (pyproject.toml's contracts); none
imports torch, so jobs can start the tracker's hardware probe while torch is still importing:

- ``meter``: the tracker around one stage (:class:`EnergyMeter`)
- ``warm_up``: codecarbon's hardware probe in a background thread
- ``record``: the reading, its JSON entries, the shared-machine flag and the lifecycle sum
- ``attribution``: the process-attributed energy from the job's own CPU time
- ``grid``: the grid intensity and CO2
- ``settings``: the config's ``carbon`` block
"""

from workflow_scripts.energy.grid import check_grid_intensity, co2_g, grid_intensity_g_per_kwh
from workflow_scripts.energy.meter import EnergyMeter
from workflow_scripts.energy.record import (
    COSTS,
    NOTHING_SPENT,
    PROCESS_ATTRIBUTED,
    EnergyReading,
    Spent,
    lifecycle,
    shared_machine,
)
from workflow_scripts.energy.settings import METER_FIELDS, CarbonSettings
from workflow_scripts.energy.warm_up import warm_up_energy_tracking

__all__ = [
    "COSTS",
    "METER_FIELDS",
    "NOTHING_SPENT",
    "PROCESS_ATTRIBUTED",
    "CarbonSettings",
    "EnergyMeter",
    "EnergyReading",
    "Spent",
    "check_grid_intensity",
    "co2_g",
    "grid_intensity_g_per_kwh",
    "lifecycle",
    "shared_machine",
    "warm_up_energy_tracking",
]
