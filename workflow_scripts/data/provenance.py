"""Which workflow rule makes each shear-flow data file, for error messages that say how to fix it.

A file that cannot be read is named together with the rule that writes it, so the user knows
what to delete and re-run. Torch-free and import-light: the workflow parses it too (through
``data/sources.py``).
"""

from __future__ import annotations

import os
from pathlib import PurePath

#: Where the simulate source writes The Well's layout (``<root>/datasets/shear_flow/...``).
SIMULATED_ROOT = "results/shear_flow/data/simulated"

SIMULATE_RULE = "simulate_shear_flow"
SOURCE_STATS_RULE = "shear_flow_source_stats"
DOWNLOAD_RULE = "download_well_file"
DOWNLOAD_STATS_RULE = "download_well_stats"
REGRID_RULE = "regrid_shear_flow"


def _is_simulated(path: PurePath) -> bool:
    return f"/{SIMULATED_ROOT}/" in f"/{path.as_posix()}"


def source_rule(path: str | os.PathLike[str]) -> str:
    """The rule that makes a source file (an HDF5 file or the stats.yaml of The Well's layout):
    the simulator's under ``SIMULATED_ROOT``, the downloader's elsewhere in that layout; both
    when the path does not tell (a file outside the workflow's tree)."""
    path = PurePath(path)
    is_stats = path.suffix in (".yaml", ".yml")
    simulate, download = (
        (SOURCE_STATS_RULE, DOWNLOAD_STATS_RULE) if is_stats else (SIMULATE_RULE, DOWNLOAD_RULE)
    )
    if _is_simulated(path):
        return simulate
    if "/datasets/shear_flow/" in f"/{path.as_posix()}":
        return download
    return f"{simulate} (data.source: simulate) or {download} (data.source: download)"


def remedy(rule: str) -> str:
    """What an error message about a file that ``rule`` makes ends with."""
    return f"made by rule {rule}: delete it and re-run the workflow to make it again"
