"""CO2 from energy: the grid intensity (forced, or codecarbon's national figure) and the PUE.

Applied at the summary only, so a changed PUE or grid intensity re-runs the summary, never a
measured job.
"""

from __future__ import annotations

from workflow_scripts.codecarbon_internals import national_grid_countries
from workflow_scripts.energy.settings import CarbonSettings
from workflow_scripts.errors import ConfigError


def check_grid_intensity(settings: CarbonSettings) -> None:
    """Raise ConfigError unless a grid intensity is forced or codecarbon has the country's;
    without importing codecarbon, since the config check runs while the workflow is parsed."""
    if settings.grid_intensity_g_per_kwh is not None:
        return
    if settings.country_iso_code.upper() not in national_grid_countries():
        raise ConfigError(
            f"config key 'carbon.country_iso_code': codecarbon has no grid intensity for "
            f"{settings.country_iso_code!r}; set carbon.grid_intensity_g_per_kwh instead"
        )


def grid_intensity_g_per_kwh(settings: CarbonSettings) -> float:
    """The forced grid intensity, else codecarbon's national figure for ``country_iso_code``
    (its offline energy-mix table, as its offline tracker uses it, no network)."""
    check_grid_intensity(settings)
    if settings.grid_intensity_g_per_kwh is not None:
        return float(settings.grid_intensity_g_per_kwh)
    from codecarbon.core.emissions import Emissions
    from codecarbon.core.units import Energy
    from codecarbon.external.geography import GeoMetadata
    from codecarbon.input import DataSource

    kg = Emissions(DataSource()).get_country_emissions(
        Energy.from_energy(kWh=1.0),
        GeoMetadata(country_iso_code=settings.country_iso_code.upper()),
    )
    return float(kg) * 1000.0


def co2_g(energy_kwh: float, settings: CarbonSettings, intensity: float | None = None) -> float:
    """CO2 of an IT energy: energy x PUE (the facility's overhead) x grid intensity."""
    if intensity is None:
        intensity = grid_intensity_g_per_kwh(settings)
    return energy_kwh * settings.pue * intensity
