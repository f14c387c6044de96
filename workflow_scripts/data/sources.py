"""Where the shear-flow source files are, whichever source the config picks.

Both sources produce The Well's layout, ``<root>/datasets/shear_flow/{stats.yaml,
data/<split>/<file>.hdf5}``: the simulator under ``results/shear_flow/data/simulated``, the
downloader under its configured ``dest``. The regridding stage reads either unchanged.
"""

from __future__ import annotations

import itertools
from typing import Any

# SIMULATED_ROOT: the rules import it from here with the path functions below.
from workflow_scripts.data.provenance import SIMULATED_ROOT
from workflow_scripts.data.well_format import DATASET_NAME, all_parameter_pairs, well_file_name

SPLITS = ("train", "valid", "test")
#: (n_shear, n_blobs, width) of the dataset's generation code: 40 per parameter pair.
INITIAL_CONDITIONS = tuple(itertools.product((2, 4), (2, 3, 4, 5), (0.25, 0.5, 1.0, 2.0, 4.0)))


def well_layout(root: str) -> str:
    """The dataset's folder of The Well's layout under ``root``."""
    return f"{root}/datasets/{DATASET_NAME}"


def source_root(data: dict[str, Any]) -> str:
    return well_layout(SIMULATED_ROOT if data["source"] == "simulate" else data["download"]["dest"])


def parameter_pairs(data: dict[str, Any]) -> list[tuple[float, float]]:
    """The (Re, Sc) pairs of the chosen source, in The Well's order."""
    if data["source"] == "simulate":
        chosen = {
            (float(re), float(sc))
            for re in data["simulate"]["reynolds"]
            for sc in data["simulate"]["schmidt"]
        }
    else:
        download = data["download"]
        pairs = download.get("parameter_pairs")
        chosen = {(float(re), float(sc)) for re, sc in pairs} if pairs else None
    ordered = [pair for pair in all_parameter_pairs() if chosen is None or pair in chosen]
    if data["source"] == "download" and data["download"].get("first_only"):
        ordered = ordered[:1]
    return ordered


def splits(data: dict[str, Any]) -> list[str]:
    if data["source"] == "download":
        return list(data["download"]["splits"])
    return [s for s in SPLITS if data["simulate"]["trajectories"][s] > 0]


def source_files(data: dict[str, Any], split: str) -> list[str]:
    root = source_root(data)
    return [f"{root}/data/{split}/{well_file_name(re, sc)}" for re, sc in parameter_pairs(data)]


def stats_file(data: dict[str, Any]) -> str:
    return f"{source_root(data)}/stats.yaml"


def source_resolution(data: dict[str, Any]) -> tuple[int, int]:
    """Grid of the source files: the simulator's, or The Well's 256 x 512."""
    if data["source"] == "simulate":
        return data["simulate"]["nx"], data["simulate"]["ny"]
    return 256, 512
