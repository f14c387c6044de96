"""The ``carbon`` block of the config, and the options codecarbon's tracker gets from it."""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True)
class CarbonSettings:
    """The ``carbon`` block of the config.

    Energy meters read only ``tracking_mode`` and ``measure_power_secs`` (the measured rules'
    params); ``country_iso_code`` only labels codecarbon's own CSV. PUE and grid intensity are
    applied by :func:`~workflow_scripts.energy.grid.co2_g` at the summary;
    ``shared_load_threshold`` (cores' worth of other processes' CPU use, averaged over a job)
    flags jobs that shared the machine.
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

    def tracker_options(self) -> dict[str, Any]:
        """Keyword arguments of codecarbon's ``OfflineEmissionsTracker`` for these settings."""
        # PUE 1: the meter stores IT energy; PUE is applied at the summary (co2_g).
        return {
            "country_iso_code": self.country_iso_code,
            "pue": 1.0,
            "tracking_mode": self.tracking_mode,
            "measure_power_secs": self.measure_power_secs,
        }


# Settings an energy meter's numbers depend on: the measured rules' params (rules/common.smk).
METER_FIELDS = ("tracking_mode", "measure_power_secs")
