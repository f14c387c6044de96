"""The process-attributed energy: a job's share of codecarbon's figures, from its own CPU time.

codecarbon's machine-wide load estimate counts every process on the machine; the attributed
figure counts the job's own use, which others' load does not inflate.
"""

from __future__ import annotations

import resource

from workflow_scripts.codecarbon_internals import CpuRamPower

_JOULES_PER_KWH = 3.6e6


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
