"""The package's layering (import-linter contracts in pyproject.toml) and a torch-free parse."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from workflow_helpers import REPO

BIN = Path(sys.executable).parent


def test_import_contracts_hold():
    result = subprocess.run(
        [str(BIN / "lint-imports")], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_parsing_the_workflow_imports_no_torch(tmp_path):
    """`snakemake -n` on the default config: every module it imports, as Python reports them."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", str(BIN / "snakemake"), "-n", "--cores", "1"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()}
    assert "workflow_scripts.config" in imported  # the config check ran
    heavy = sorted(m for m in imported if m.split(".")[0] in ("torch", "matplotlib", "codecarbon"))
    assert not heavy, heavy[:10]
