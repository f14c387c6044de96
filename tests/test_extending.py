"""Extending the workflow as the README says: a new experiment, a new figure, new files only.

The new experiment (exponential decay u' = -k u, MLP vs PINN) and the new figure are written
into a temporary copy of the workflow; Snakemake runs there end to end. The copy's own
``workflow_scripts`` is imported (the Snakefile's directory comes first on sys.path), so
nothing outside the copy is touched, and the test checks that no existing file changed.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from workflow_helpers import REPO, SNAKEMAKE

pytestmark = pytest.mark.slow

EXTENSION = Path(__file__).with_name("extension")
WORKFLOW = ("Snakefile", "rules", "workflow_scripts", "config", "report", "profiles", "envs")
NEW_FILES = {
    "workflow_scripts/physics/decay.py": "decay_physics.py",
    "workflow_scripts/experiments/decay.py": "decay_experiment.py",
}

DECAY_CONFIG = """
seeds: [0]
evaluation: {min_inference_seconds: 0.05, min_inference_repeats: 2}
experiments:
  oscillator: {enabled: false}
  burgers: {enabled: false}
  shear_flow: {enabled: false}
  decay:
    data: {k: 2.0}
    training: {steps: 80, lr: 0.01, log_every: 20}
    models:
      mlp:
        physics_bias: none
        architecture: {width: 16, depth: 2}
        loss_weights: {data: 1.0}
      pinn:
        physics_bias: weak
        architecture: {width: 16, depth: 2}
        loss_weights: {data: 1.0, physics: 1.0}
"""


def digests(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for name in WORKFLOW
        for path in ([root / name] if (root / name).is_file() else (root / name).rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


@pytest.fixture(scope="module")
def copy(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("extended")
    for name in WORKFLOW:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, root / name)
    for target, source in NEW_FILES.items():
        shutil.copy2(EXTENSION / source, root / target)
    (root / "decay.yaml").write_text(DECAY_CONFIG)
    return root


def run(copy: Path, *args: str) -> subprocess.CompletedProcess:
    command = [SNAKEMAKE, "--cores", "2", *args, "--configfile", "decay.yaml"]
    result = subprocess.run(command, cwd=copy, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    return result


def test_a_new_experiment_is_its_physics_module_its_card_module_and_a_config_entry(copy):
    run(copy)
    summary = pd.read_csv(copy / "results" / "decay" / "summary.csv")
    assert sorted(summary["model"]) == ["mlp", "pinn"]
    assert summary["test_mse"].notna().all() and (summary["train_energy_kwh"] > 0).all()
    for figure in ("pareto", "solution"):
        for suffix in (".png", ".pdf"):
            assert (copy / "results" / "figures" / "decay" / f"{figure}{suffix}").stat().st_size
    # no existing file of the workflow changed: only the two new modules were added
    before, after = digests(REPO), digests(copy)
    assert set(after) - set(before) == set(NEW_FILES)
    assert {name: after[name] for name in before} == before


def test_a_new_figure_is_one_function_and_one_registration(copy):
    module = copy / "workflow_scripts" / "experiments" / "oscillator.py"
    module.write_text(module.read_text() + (EXTENSION / "oscillator_figure.py").read_text())
    rules = subprocess.run(
        [SNAKEMAKE, "--list-rules"], cwd=copy, capture_output=True, text=True, check=True
    ).stdout.split()
    assert "figure_oscillator_parameters" in rules
    planned = subprocess.run(
        [SNAKEMAKE, "-n", "--cores", "1", "results/figures/oscillator/parameters.png"],
        cwd=copy,
        capture_output=True,
        text=True,
    )
    assert "figure_oscillator_parameters" in planned.stdout, planned.stdout + planned.stderr
    # ... and it draws from a real summary table (the decay run's), through the card
    outputs = [copy / "parameters.png", copy / "parameters.pdf"]
    draw = (
        "import sys; from pathlib import Path; "
        "from workflow_scripts.experiments import experiment_card; "
        "from workflow_scripts.experiments.card import FigureInputs; "
        "card = experiment_card('oscillator'); "
        "card.figures['parameters'].draw(FigureInputs(summary=Path(sys.argv[1])), "
        "[Path(p) for p in sys.argv[2:]], card)"
    )
    summary = copy / "results" / "decay" / "summary.csv"
    subprocess.run([sys.executable, "-c", draw, summary, *outputs], cwd=copy, check=True)
    assert all(path.stat().st_size > 1000 for path in outputs)
