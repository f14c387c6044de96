"""Running the real Snakemake CLI on a config in a temporary working directory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


def only(config: dict, experiment: str, seeds: list[int] | None = None) -> dict:
    """Enable one experiment of ``config`` (a branch of the DAG), optionally fewer seeds."""
    for name, block in config["experiments"].items():
        block["enabled"] = name == experiment
    if seeds is not None:
        config["seeds"] = seeds
    return config


def snakemake(
    workdir: Path, config: dict | None, *args: str, check: bool = True, timeout: int = 900
) -> subprocess.CompletedProcess:
    command = [
        SNAKEMAKE,
        "-s",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--cores",
        "2",
    ]
    command += list(args)
    if config is not None:
        # last: --configfile takes several values and would swallow targets after it
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "config.yaml").write_text(yaml.safe_dump(config))
        command += ["--configfile", str(workdir / "config.yaml")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=workdir)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake failed:\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}")
    return result
