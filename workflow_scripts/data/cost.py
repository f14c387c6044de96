"""Energy accounting of data stages (generation, download, regridding) for the lifecycle."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from workflow_scripts.energy import CarbonSettings, EnergyMeter
from workflow_scripts.files import write_json


@contextlib.contextmanager
def measured_data_stage(
    stage: str, carbon: CarbonSettings, emissions: Path, cost: Path, **details: Any
) -> Iterator[dict[str, Any]]:
    """Track a data stage; write ``cost`` (JSON with data_energy_kwh, data_cpu_time_s, ...)
    after: energy without PUE or CO2, which the summary derives.

    The yielded dict collects extra facts for the cost file (sizes, counts).
    """
    extra: dict[str, Any] = dict(details)
    with EnergyMeter(carbon, emissions, stage=stage) as meter:
        yield extra
    reading = meter.reading
    assert reading is not None
    write_json(
        cost,
        {
            "stage": stage,
            **reading.entries("data", carbon.shared_load_threshold),
            **extra,
        },
    )
