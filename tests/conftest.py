"""Shared fixtures: the repository, a validated default config, and a tiny one."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest
import yaml

os.environ.setdefault("WANDB_MODE", "disabled")

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture
def default_config() -> dict:
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def tiny_config() -> dict:
    """The default config shrunk to seconds: few steps, two seeds, short inference timing, no
    sweeps (the tests that sweep add their own)."""
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["seeds"] = [0, 1]
    config["evaluation"] = {"min_inference_seconds": 0.05, "min_inference_repeats": 2}
    for block in config["experiments"].values():
        block.pop("sweeps", None)
        if "training" not in block:  # a data-only experiment
            continue
        block["training"].update({"steps": 60, "log_every": 20})
        if "lbfgs_steps" in block["training"]:
            block["training"]["lbfgs_steps"] = min(block["training"]["lbfgs_steps"], 10)
    return config


@pytest.fixture
def tiny() -> dict:
    return copy.deepcopy(tiny_config())


@pytest.fixture(scope="session", autouse=True)
def warm_worker_servers(tmp_path_factory):
    """The suite's warm-worker servers live in a folder of its own (never a user's running
    pipeline's) and are stopped when the session ends, not left to idle out."""
    from workflow_helpers import stop_warm_workers

    folder = tmp_path_factory.mktemp("warm")
    previous = os.environ.get("WARM_WORKER_DIR")
    os.environ["WARM_WORKER_DIR"] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop("WARM_WORKER_DIR")
    else:
        os.environ["WARM_WORKER_DIR"] = previous
    stop_warm_workers(folder)


def pytest_collection_modifyitems(config, items) -> None:
    """Tests marked slurm run last: while their controller is up, every Snakemake start asks
    it for its config, and they install packages the rest of the suite must not wait for."""
    items.sort(key=lambda item: item.get_closest_marker("slurm") is not None)


def pytest_collection_finish(session) -> None:
    """Where Slurm tests will run, their packages install in the background meanwhile."""
    slurm_tests = [item for item in session.items if item.get_closest_marker("slurm")]
    if slurm_tests and not session.config.option.collectonly:
        slurm_tests[0].module.start_installing_slurm()
