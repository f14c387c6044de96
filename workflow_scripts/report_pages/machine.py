"""The machine and environment building the report pages (they need not be those that ran the
jobs): its CPU and memory from ``/proc``, its GPUs, its OS and the installed packages."""

from __future__ import annotations

import importlib.metadata
import os
import platform
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from workflow_scripts.gpu_slots import count_gpus
from workflow_scripts.report_pages.cells import MISSING, formatted

#: Packages whose versions the run page lists.
PACKAGES = ("snakemake", "torch", "codecarbon", "numpy", "pandas", "xarray", "dask")


def this_machine(proc: Path = Path("/proc")) -> pd.DataFrame:
    """The machine building the report pages (it need not be the one that ran the jobs)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in (proc / "cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gb: float | str = MISSING
    try:
        for line in (proc / "meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gb = round(int(line.split()[1]) / 2**20, 1)
                break
    except OSError:
        pass
    return formatted(
        pd.DataFrame(
            [
                {
                    "cpu_model": cpu,
                    "logical_cores": os.cpu_count(),
                    "ram_total_size_gb": ram_gb,
                    "nvidia_gpus": count_gpus(proc / "driver" / "nvidia" / "gpus"),
                    "os": platform.platform(),
                }
            ]
        )
    )


def package_versions(packages: Sequence[str] = PACKAGES) -> dict[str, str]:
    """Python and each package's installed version in this job's environment."""
    versions = {"python": platform.python_version()}
    for package in packages:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "not installed here"
    return versions
