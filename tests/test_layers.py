"""The package's layering (import-linter contracts in pyproject.toml) and a parse of the workflow
that imports none of the jobs' heavy libraries."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from workflow_helpers import REPO

BIN = Path(sys.executable).parent


def test_import_contracts_hold():
    result = subprocess.run(
        [str(BIN / "lint-imports")], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


# What parsing the workflow must not import: torch, the plots, the energy meter's library and
# the HDF5 reader are the jobs' (each seconds to import, or a GPU or hardware probe).
JOB_ONLY = ("torch", "matplotlib", "codecarbon", "h5py")


@pytest.mark.parametrize(
    "carbon",
    [None, {"grid_intensity_g_per_kwh": None}],
    ids=["default", "national grid intensity"],
)
def test_parsing_the_workflow_imports_no_job_library(carbon, tmp_path):
    """`snakemake -n` on the default config, and with codecarbon's national grid intensity
    (which the config check looks up): every module it imports, as Python reports them."""
    configfile = []
    if carbon is not None:
        (tmp_path / "carbon.yaml").write_text(yaml.safe_dump({"carbon": carbon}))
        configfile = ["--configfile", str(tmp_path / "carbon.yaml")]
    result = subprocess.run(
        [sys.executable, "-X", "importtime", str(BIN / "snakemake"), "-n", "--cores", "1"]
        + configfile,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()}
    assert "workflow_scripts.config" in imported  # the config check ran
    heavy = sorted(m for m in imported if m.split(".")[0] in JOB_ONLY)
    assert not heavy, heavy[:10]
