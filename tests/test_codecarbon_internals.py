"""codecarbon's internals, read by the energy meters: another codecarbon fails at config time
and when a meter starts, naming its version and what it lacks, never partway through a stage."""

from __future__ import annotations

import importlib.metadata
import types
from pathlib import Path

import pytest
from conftest import tiny_config

from workflow_scripts import codecarbon_internals
from workflow_scripts.codecarbon_internals import (
    CodecarbonMismatch,
    check_codecarbon,
    national_grid_countries,
    require_internals,
)
from workflow_scripts.config import validate_config
from workflow_scripts.energy import CarbonSettings, EnergyMeter


def test_the_installed_codecarbon_passes_the_config_time_check():
    check_codecarbon()


def test_the_countries_read_from_the_package_are_those_codecarbon_loads():
    """The config check reads codecarbon's energy-mix table from its file, not through its API
    (parsing the workflow imports no codecarbon): the same countries."""
    from codecarbon.input import DataSource

    assert national_grid_countries() == set(DataSource().get_global_energy_mix_data())
    assert "DNK" in national_grid_countries()


def _installed_codecarbon_is(version: str, monkeypatch) -> None:
    real = importlib.metadata.version
    monkeypatch.setattr(
        importlib.metadata, "version", lambda name: version if name == "codecarbon" else real(name)
    )


def test_an_untested_version_fails_at_config_time_naming_it(monkeypatch):
    _installed_codecarbon_is("3.4.0", monkeypatch)
    with pytest.raises(CodecarbonMismatch, match=r"codecarbon 3\.4\.0 is installed") as refused:
        check_codecarbon()
    assert "pip install 'codecarbon>=3.3.2,<3.4'" in str(refused.value)


def test_the_config_validation_runs_the_check(monkeypatch):
    _installed_codecarbon_is("3.4.0", monkeypatch)
    with pytest.raises(CodecarbonMismatch, match=r"codecarbon 3\.4\.0"):
        validate_config(tiny_config())


def test_an_internal_gone_from_the_source_is_named_at_config_time(monkeypatch, tmp_path):
    """A codecarbon whose CPU no longer keeps ``_tdp``: the check reads the installed files."""
    installed = importlib.metadata.distribution("codecarbon")
    for file in ("emissions_tracker.py", "external/hardware.py"):
        copy = tmp_path / "codecarbon" / file
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_text(Path(installed.locate_file(f"codecarbon/{file}")).read_text())
    hardware = tmp_path / "codecarbon" / "external" / "hardware.py"
    hardware.write_text(hardware.read_text().replace("self._tdp", "self._thermal_design_power"))
    changed = types.SimpleNamespace(
        version=installed.version, locate_file=lambda relative: tmp_path / relative
    )
    monkeypatch.setattr(importlib.metadata, "distribution", lambda name: changed)
    with pytest.raises(CodecarbonMismatch, match=r"codecarbon 3\.3\.\d+ lacks CPU\._tdp\. Install"):
        check_codecarbon()


def test_a_tracker_without_the_internals_is_refused_naming_each():
    cpu = type("CPU", (), {"_mode": "cpu_load"})()
    tracker = types.SimpleNamespace(_hardware=[cpu], _total_cpu_energy=None)
    with pytest.raises(CodecarbonMismatch) as refused:
        require_internals(tracker)
    message = str(refused.value)
    for name in ("_measure_power_and_energy_if_stale", "_total_gpu_energy", "CPU._tdp"):
        assert name in message
    assert "EmissionsTracker._total_cpu_energy" not in message.split("lacks")[1]


def test_a_meter_refuses_before_its_stage_runs_and_leaves_no_csv(monkeypatch, tmp_path):
    def lacking(tracker):
        raise CodecarbonMismatch("codecarbon 9.0 is installed ... lacks CPU._tdp")

    monkeypatch.setattr("workflow_scripts.energy.meter.require_internals", lacking)
    csv = tmp_path / "emissions.csv"
    ran = []
    with pytest.raises(CodecarbonMismatch, match="lacks CPU._tdp"):
        with EnergyMeter(CarbonSettings(), csv, stage="test"):
            ran.append(True)
    assert not ran and not csv.exists()


def test_the_pin_in_pyproject_is_the_tested_range():
    pyproject = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    tested = codecarbon_internals.TESTED_FROM, codecarbon_internals.TESTED_BELOW
    assert '"codecarbon>={},<{}"'.format(*tested) in pyproject
