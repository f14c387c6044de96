"""Running the real Snakemake CLI on a config in a temporary working directory."""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
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


def planned_jobs(result: subprocess.CompletedProcess) -> dict[str, int]:
    """Rule -> job count from the "Job stats" table of a dry run; {} if nothing is to be done."""
    text = result.stdout + result.stderr
    if "Job stats:" not in text:
        assert "Nothing to be done" in text, text[-3000:]
        return {}
    counts = {}
    for line in text.split("Job stats:", 1)[1].splitlines()[3:]:  # past the table's header
        rule, count = line.split()
        if rule == "total":
            return counts
        counts[rule] = int(count)
    raise AssertionError(f"no end to the job stats table:\n{text[-3000:]}")


RUN_FILES = (
    "model.pt",
    "history.csv",
    "train_emissions.csv",
    "train.json",
    "metrics.json",
    "predictions.nc",
    "inference_emissions.csv",
)


def assert_experiment_outputs(
    workdir: Path, experiment: str, models: tuple[str, ...], figures: tuple[str, ...], seed: int = 0
) -> pd.DataFrame:
    """Every per-run file, log and benchmark, a finite summary, and every figure as PNG + PDF."""
    results = workdir / "results" / experiment
    for model in models:
        run = results / model / f"seed{seed}"
        for name in RUN_FILES:
            assert (run / name).stat().st_size > 0, run / name
        metrics = json.loads((run / "metrics.json").read_text())
        for key in (
            "test_mse",
            "test_rel_l2",
            "inference_energy_kwh_per_prediction",
            "inference_flops_per_prediction",
        ):
            assert math.isfinite(metrics[key]) and metrics[key] > 0, (model, key)
        assert np.isfinite(pd.read_csv(run / "history.csv")["val_mse"]).all()
        for stage in ("train", "evaluate"):
            assert (workdir / "logs" / stage / experiment / model / f"seed{seed}.log").exists()
            assert (
                workdir / "benchmarks" / stage / experiment / model / f"seed{seed}.tsv"
            ).exists()
    summary = pd.read_csv(results / "summary.csv")
    assert set(summary["model"]) == set(models)
    # energy_to_target_kwh is empty by design when no target error is configured
    # ... and the sweep columns, for runs of the variants as configured
    sweep = ["energy_to_target_kwh", "sweep_key", "sweep_value"]
    numeric = summary.select_dtypes("number").drop(columns=sweep, errors="ignore")
    assert np.isfinite(numeric.to_numpy()).all()
    for column in (
        "train_energy_kwh",
        "train_co2_g",
        "inference_energy_kwh_per_prediction",
        "data_energy_kwh",
        "lifecycle_co2_g",
        "flops_per_train_step",
    ):
        assert (summary[column] > 0).all(), column
    for figure in figures:
        for suffix in (".png", ".pdf"):
            path = workdir / "results" / "figures" / experiment / f"{figure}{suffix}"
            assert path.stat().st_size > 5000, path
    return summary


def after_summary(experiment: str, figures: tuple[str, ...]) -> dict[str, int]:
    """The jobs a changed summary of ``experiment`` re-runs: the summary itself, the card's
    ``figures``, the experiment's analysis and lifecycle figures, the claims, the overview and
    the report's pages."""
    from workflow_scripts.figures import LIFECYCLE_FIGURES

    figure_rules = {f"figure_{experiment}_{f}": 1 for f in (*figures, *LIFECYCLE_FIGURES)}
    return {
        "summarize": 1,
        "analyze": 1,
        "claims": 1,
        "figure_overview": 1,
        "report_pages": 1,
        "all": 1,
    } | figure_rules


def stop_warm_workers(folder: Path) -> None:
    """Stop the warm-worker servers that logged their start in ``folder``."""
    for log in folder.glob("*.log"):
        for line in log.read_text().splitlines():
            if line.startswith("warm worker "):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(line.split()[2]), signal.SIGTERM)


def shuffled(value, seed: int = 0):
    """``value`` with the keys of every mapping in another (random) order; lists as they are."""
    import random

    rng = random.Random(seed)

    def shuffle(node):
        if isinstance(node, dict):
            keys = list(node)
            rng.shuffle(keys)
            return {key: shuffle(node[key]) for key in keys}
        return [shuffle(item) for item in node] if isinstance(node, list) else node

    return shuffle(value)


def respelled_yaml(config: dict) -> str:
    """``config`` as YAML with its numbers spelled another way than yaml.safe_dump's: integral
    floats as integers (``2`` for 2.0), other floats in exponent form (``1.0e-03`` for 0.001);
    keys in the mapping's own order."""

    class Respelling(yaml.SafeDumper):
        pass

    def spell(dumper, value):
        if value.is_integer():
            return dumper.represent_int(int(value))
        mantissa, exponent = f"{value:.16e}".split("e")
        mantissa = mantissa.rstrip("0")
        return dumper.represent_scalar(
            "tag:yaml.org,2002:float",
            f"{mantissa}{'0' if mantissa.endswith('.') else ''}e{exponent}",
        )

    Respelling.add_representer(float, spell)
    return yaml.dump(config, Dumper=Respelling, sort_keys=False)
