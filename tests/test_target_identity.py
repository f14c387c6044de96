"""A target is what it means: one finished tiny run, then dry runs of configs that say the same
thing in other words (and of some that do not), then a code edit.

The run is made in a copy of the workflow, so the last test can edit the copy's code and see
the results made before the edit flagged in the summary after it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import tiny_config
from test_extending import WORKFLOW
from workflow_helpers import (
    REPO,
    SNAKEMAKE,
    after_summary,
    only,
    planned_jobs,
    respelled_yaml,
    shuffled,
)

from workflow_scripts.experiments import experiment_card

pytestmark = pytest.mark.slow

FIGURES = tuple(experiment_card("oscillator").figures)
# Written in the order opposite to its name's (steps, then lbfgs_steps).
POINT = {"training.lbfgs_steps": 5, "training.steps": 30}


def run(copy: Path, text: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Snakemake in the copy with ``text`` as the --configfile."""
    (copy / "my.yaml").write_text(text)
    command = [SNAKEMAKE, "--cores", "2", *args, "--configfile", "my.yaml"]
    result = subprocess.run(command, cwd=copy, capture_output=True, text=True, timeout=900)
    if check and result.returncode != 0:
        raise AssertionError(result.stdout[-3000:] + result.stderr[-6000:])
    return result


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> tuple[Path, dict]:
    copy = tmp_path_factory.mktemp("identity")
    for name in WORKFLOW:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, copy / name)
    config = only(tiny_config(), "oscillator", seeds=[0])
    for model in ("pinn", "pinn_hard"):
        config["experiments"]["oscillator"]["models"][model]["enabled"] = False
    # The default config's budget sweep is merged in unless switched off.
    config["experiments"]["oscillator"]["sweeps"] = {
        "budget": {"enabled": False},
        "mine": {"points": [POINT]},
    }
    run(copy, yaml.safe_dump(config, sort_keys=False))
    return copy, config


def plan(copy: Path, config: dict) -> dict[str, int]:
    return planned_jobs(run(copy, yaml.safe_dump(config, sort_keys=False), "--dry-run"))


def test_the_point_is_named_in_its_settings_declared_order(finished):
    copy, _ = finished
    train = json.loads(
        (copy / "results/oscillator/mlp/steps30-lbfgs_steps5/seed0/train.json").read_text()
    )
    assert train["spec"]["sweep"] == "training.steps+training.lbfgs_steps"


def test_a_config_resaved_in_another_order_and_spelling_plans_nothing(finished):
    """Keys shuffled at every level (the point's too), floats as 1.0e-03 or as integers."""
    copy, config = finished
    for seed in (1, 2):
        text = respelled_yaml(shuffled(config, seed))
        assert planned_jobs(run(copy, text, "--dry-run")) == {}


def test_a_changed_pue_in_another_order_plans_only_what_follows_the_summary(finished):
    copy, config = finished
    changed = shuffled(config, 3)
    changed["carbon"]["pue"] = 2 * config["carbon"]["pue"]
    text = respelled_yaml(changed)
    assert planned_jobs(run(copy, text, "--dry-run")) == after_summary("oscillator", FIGURES)


def test_a_renamed_sweep_re_runs_nothing(finished):
    copy, config = finished
    renamed = json.loads(json.dumps(config))
    sweeps = renamed["experiments"]["oscillator"]["sweeps"]
    sweeps["adam_and_lbfgs"] = sweeps.pop("mine")
    assert plan(copy, renamed) == {}


def test_a_point_equal_to_the_variant_plans_no_job(finished):
    copy, config = finished
    steps = config["experiments"]["oscillator"]["training"]["steps"]
    equal = json.loads(json.dumps(config))
    equal["experiments"]["oscillator"]["sweeps"]["mine"]["points"].append(
        {"training.steps": steps, "training.lbfgs_steps": 0}
    )
    assert plan(copy, equal) == {}


def test_a_sweep_switched_off_leaves_the_plan(finished):
    copy, config = finished
    off = json.loads(json.dumps(config))
    off["experiments"]["oscillator"]["sweeps"]["mine"]["enabled"] = False
    result = run(copy, yaml.safe_dump(off), "--dry-run")
    assert planned_jobs(result) == after_summary("oscillator", FIGURES)  # one run fewer
    assert "steps30" not in result.stdout


def test_a_batch_size_on_the_oscillator_stops_the_workflow_naming_the_key(finished):
    copy, config = finished
    batched = json.loads(json.dumps(config))
    batched["experiments"]["oscillator"]["training"]["batch_size"] = 8
    result = run(copy, yaml.safe_dump(batched), "--dry-run", check=False)
    assert result.returncode != 0
    assert "experiments.oscillator.training.batch_size: 8 would be ignored" in result.stdout


def test_results_made_before_a_code_edit_are_flagged_in_the_summary_after_it(finished):
    """Last: it edits the copy's package (any module: the version hashes them all), which
    re-runs nothing by itself."""
    copy, config = finished
    runs = copy / "results" / "oscillator" / "mlp"
    before = json.loads((runs / "seed0" / "train.json").read_text())["code_version"]
    assert json.loads((runs / "seed0" / "metrics.json").read_text())["code_version"]
    package = copy / "workflow_scripts" / "__init__.py"
    package.write_text(package.read_text() + "\n# an edit of the code\n")
    assert plan(copy, config) == {}  # flagged, not re-run
    config["experiments"]["oscillator"]["sweeps"]["mine"]["points"].append(
        {"training.steps": 40, "training.lbfgs_steps": 5}
    )
    run(copy, yaml.safe_dump(config))
    summary = pd.read_csv(copy / "results" / "oscillator" / "summary.csv").set_index("point")
    assert summary["made_by_other_code"].to_dict() == {
        "base": True,
        "steps30-lbfgs_steps5": True,
        "steps40-lbfgs_steps5": False,
    }
    assert summary.loc["base", "train_code_version"] == before
    assert summary.loc["steps40-lbfgs_steps5", "train_code_version"] != before
    start = (copy / "results" / "report" / "start.html").read_text()
    assert "2 of 3 runs were made by code other than this checkout" in start
