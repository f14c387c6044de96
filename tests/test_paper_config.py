"""config/paper.yaml, the study's scale: it validates, plans the whole DAG with no file
present, and its shear-flow models are The Well's baseline size."""

from __future__ import annotations

import copy
import logging
import os
import re
import subprocess
from pathlib import Path

import pytest
import torch
import yaml
from snakemake.utils import update_config
from workflow_helpers import REPO, SNAKEMAKE, planned_jobs

from workflow_scripts.analysis.claims import CLAIMS
from workflow_scripts.config import (
    device_of,
    models_of,
    runs_of,
    seeds_of,
    validate_config,
    variant_spec,
)
from workflow_scripts.errors import ConfigError
from workflow_scripts.experiments import card_of, experiment_card, experiment_cards
from workflow_scripts.figures import LIFECYCLE_FIGURES
from workflow_scripts.models.registry import ForecastSetting, build_forecaster

DEFAULT = REPO / "config" / "config.yaml"
PAPER = REPO / "config" / "paper.yaml"
EXPERIMENTS = ("oscillator", "oscillator_undamped", "burgers", "shear_flow")
LAPTOP = ("oscillator", "oscillator_undamped", "burgers")


@pytest.fixture(scope="module")
def paper() -> dict:
    """paper.yaml merged over the default, as Snakemake merges a --configfile."""
    config = copy.deepcopy(yaml.safe_load(DEFAULT.read_text()))
    update_config(config, yaml.safe_load(PAPER.read_text()))
    validate_config(config)  # fills the schema's defaults
    return config


def test_it_is_the_study_scale(paper):
    assert paper["device"] == "cuda"
    # The study's laptop experiments on the CPU, the shear flow on the top-level device.
    assert [device_of(paper, e) for e in ("oscillator", "burgers", "shear_flow")] == [
        "cpu",
        "cpu",
        "cuda",
    ]
    assert paper["seeds"] == [0, 1, 2]
    shear = paper["experiments"]["shear_flow"]
    assert shear["data"]["source"] == "download"
    assert len(shear["data"]["download"]["parameter_pairs"]) == 6  # the study's 6 of 28 files
    assert (shear["data"]["regrid"]["nx"], shear["data"]["regrid"]["ny"]) == (256, 512)
    burgers = paper["experiments"]["burgers"]["training"]
    assert (burgers["steps"], burgers["lbfgs_steps"], burgers["dtype"]) == (15000, 15000, "float64")


def _parameters(architecture: dict) -> int:
    setting = ForecastSetting(
        input_frames=4, fields=4, delta_scale=torch.ones(4), mean=torch.zeros(4), std=torch.ones(4)
    )
    return sum(p.numel() for p in build_forecaster(architecture, setting).parameters())


@pytest.mark.parametrize(
    "model, low_m, high_m",
    [  # The Well's U-Net and FNO baselines: about 19 M; the study's flow matching: 8.6 M
        ("unet", 15, 21),
        ("unet_physloss", 15, 21),
        ("fno", 15, 21),
        ("fno_divfree", 15, 21),
        ("flow_matching", 7.5, 9.5),
    ],
)
def test_models_have_the_baselines_size(paper, model, low_m, high_m):
    architecture = variant_spec(paper, "shear_flow", model)["architecture"]
    assert low_m * 1e6 <= _parameters(architecture) <= high_m * 1e6


def _dry_run(workdir, *targets, path=None, options=("--cores", "1")) -> subprocess.CompletedProcess:
    """``snakemake -n`` of config/paper.yaml in an empty ``workdir``, with ``path`` as PATH."""
    environment = os.environ | ({"PATH": path} if path else {})
    result = subprocess.run(
        [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(workdir), *options]
        + ["--dry-run", *targets, "--configfile", str(DEFAULT), str(PAPER)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=workdir,
        env=environment,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def _gpus_held(result, rule: str) -> dict[str, set[int]]:
    """Experiment -> the `gpu` resources its planned ``rule`` jobs hold, from the dry run."""
    held: dict[str, set[int]] = {}
    for job in result.stdout.split(f"\nrule {rule}:\n")[1:]:
        experiment = re.search(r"wildcards: experiment=(\w+)", job).group(1)
        gpus = int(re.search(r"resources: .*\bgpu=(\d+)", job).group(1))
        held.setdefault(experiment, set()).add(gpus)
    return held


def test_dry_run_plans_the_whole_dag_from_nothing(paper, tmp_path):
    # A machine with one GPU, as nvidia-smi would list it (gpu_slots.count_gpus reads that
    # where the driver's /proc entries are missing, as they are on a machine without one).
    fake_gpu = tmp_path / "bin"
    fake_gpu.mkdir()
    (fake_gpu / "nvidia-smi").write_text("#!/bin/sh\necho 'GPU 0: a stand-in (UUID: GPU-0)'\n")
    (fake_gpu / "nvidia-smi").chmod(0o755)
    workdir = tmp_path / "run"
    workdir.mkdir()
    result = _dry_run(workdir, path=f"{fake_gpu}:{os.environ['PATH']}")
    jobs = planned_jobs(result)
    shear = paper["experiments"]["shear_flow"]["data"]
    files = len(shear["download"]["parameter_pairs"]) * len(shear["download"]["splits"])
    runs = sum(len(runs_of(paper, e)) * len(seeds_of(paper, e)) for e in EXPERIMENTS)
    # 15 variants (the oscillator's twice), the budget sweeps' 3 points of the 10 PINN-family
    # variants, 2 U-Net widths
    assert runs == (3 + 3 + 4 + 5 + 3 * 10 + 2) * 3
    expected = {
        "download_well_file": files,
        "download_well_stats": 1,
        "generate_dataset": 3,
        "regrid_shear_flow": 3,
        "train": runs,
        "evaluate": runs,
        "summarize": 4,
        "analyze": 4,
        "claims": 1,
        "figure_overview": 1,
        "report_pages": 1,
        "all": 1,
    } | {
        f"figure_{e}_{f}": 1
        for e in EXPERIMENTS
        for f in (*card_of(paper, e).figures, *LIFECYCLE_FIGURES)
    }
    assert jobs == expected
    plan = result.stdout
    for experiment in EXPERIMENTS:
        for model in models_of(paper, experiment):
            for seed in (0, 1, 2):
                assert f"results/{experiment}/{model}/seed{seed}/model.pt" in plan
    assert not (workdir / "results").exists() and not (workdir / "resources").exists()
    # Each of the shear flow's jobs asks for a GPU (device cuda); the laptop experiments' none.
    for rule in ("train", "evaluate"):
        assert _gpus_held(result, rule) == {e: {0} for e in LAPTOP} | {"shear_flow": {1}}


def test_laptop_experiments_plan_without_a_gpu(paper, tmp_path):
    """The oscillators and Burgers alone, on this machine (no GPU): their runs, data and
    figures, nothing of the shear flow (no download, no GPU job)."""
    result = _dry_run(tmp_path, "laptop_experiments")
    jobs = planned_jobs(result)
    runs = sum(len(runs_of(paper, e)) * len(seeds_of(paper, e)) for e in LAPTOP)
    assert (jobs["generate_dataset"], jobs["train"], jobs["evaluate"]) == (3, runs, runs)
    assert not {"download_well_file", "regrid_shear_flow", "claims"} & set(jobs)
    assert "shear_flow" not in result.stdout
    assert set(_gpus_held(result, "train")) == set(LAPTOP)


def test_the_undamped_oscillator_reuses_the_oscillators_card(paper):
    """A second configured experiment on the oscillator's card: no module of its own, the
    card's code (the same objects), the oscillator's block but for its data, its own name in
    paths, titles and claim-1 rows."""
    import workflow_scripts.experiments as declared

    assert "oscillator_undamped" not in experiment_cards()
    modules = Path(declared.__file__).parent.glob("*.py")
    assert not any("undamped" in module.read_text() for module in modules)
    oscillator, undamped = experiment_card("oscillator"), card_of(paper, "oscillator_undamped")
    assert (undamped.name, undamped.title) == ("oscillator_undamped", "Undamped oscillator")
    assert undamped.family is oscillator.family and undamped.checks == oscillator.checks
    for name, figure in undamped.figures.items():
        assert figure.draw is oscillator.figures[name].draw
        assert figure.caption.startswith("Undamped oscillator: ")
        assert figure.caption.removeprefix("Undamped") == oscillator.figures[
            name
        ].caption.removeprefix("Damped")

    blocks = paper["experiments"]
    assert blocks["oscillator_undamped"]["data"] == blocks["oscillator"]["data"] | {"delta": 0.0}
    for key in ("training", "models", "sweeps", "device"):
        assert blocks["oscillator_undamped"][key] == blocks["oscillator"][key], key
    spec = variant_spec(paper, "oscillator_undamped", "pinn")
    assert (spec["experiment"], spec["card"]) == ("oscillator_undamped", "oscillator")
    assert "card" not in variant_spec(paper, "oscillator", "pinn")  # its params unchanged
    assert {c.experiment for c in CLAIMS if c.id == "1"} == {"oscillator", "oscillator_undamped"}


def test_an_experiments_device_overrides_the_top_level_one(paper):
    """bf16 autocast (CUDA only) is refused on a CPU experiment under device: cuda, and kept on
    the shear flow; a device that is not one refused naming the experiment's key."""
    config = copy.deepcopy(paper)
    config["experiments"]["shear_flow"]["training"]["amp"] = "bf16"
    validate_config(config)
    config["experiments"]["burgers"]["training"]["amp"] = "bf16"
    with pytest.raises(ConfigError, match=r"burgers\.training\.amp: 'bf16' would be ignored"):
        validate_config(config)
    config = copy.deepcopy(paper)
    config["experiments"]["oscillator"]["device"] = "gpu"
    with pytest.raises(ConfigError, match=r"experiments\.oscillator\.device"):
        validate_config(config)


@pytest.mark.parametrize(
    "card, refused",
    [
        ("pendulum", r"oscillator_undamped\.card: 'pendulum' is not a declared experiment"),
        ("shear_flow", r"oscillator_undamped\.card: 'shear_flow' reads the workflow's one set"),
    ],
)
def test_a_card_is_reused_only_where_it_can_be(card, refused):
    config = copy.deepcopy(yaml.safe_load(DEFAULT.read_text()))
    config["experiments"]["oscillator_undamped"] = {"card": card, "data": {"delta": 0.0}}
    with pytest.raises(ConfigError, match=refused):
        validate_config(config)


def test_on_slurm_only_the_gpu_experiments_jobs_ask_for_a_gpu(tmp_path):
    """Through profiles/slurm, from a login node without a GPU (this machine): the shear flow's
    jobs hold a GPU (the profile declares the cluster's), the laptop experiments' none, and no
    job names a partition: the plugin picks it from partitions.yaml by the job's resources."""
    profile = ("--workflow-profile", str(REPO / "profiles" / "slurm"))
    result = _dry_run(tmp_path, options=profile)
    for rule in ("train", "evaluate"):
        assert _gpus_held(result, rule) == {e: {0} for e in LAPTOP} | {"shear_flow": {1}}
    assert "slurm_partition" not in result.stdout


class _Job:
    """What the SLURM plugin's partition selection reads of a job."""

    def __init__(self, gpus: int) -> None:
        self.name, self.threads = "train", 1
        self.resources = _Resources(gpu=gpus, mem_mb=32000, runtime=720)


class _Resources(dict):
    def __getattr__(self, name):
        return self[name]


@pytest.mark.parametrize(("gpus", "partition"), [(0, "cpu"), (1, "gpu")])
def test_the_profiles_partitions_send_gpu_jobs_to_gpus_and_the_rest_to_cpus(gpus, partition):
    from snakemake_executor_plugin_slurm.partitions import get_best_partition, read_partition_file

    profile = REPO / "profiles" / "slurm"
    settings = yaml.safe_load((profile / "config.yaml").read_text())
    partitions = read_partition_file(profile / settings["slurm-partition-config"])
    chosen = get_best_partition(partitions, _Job(gpus), logging.getLogger("slurm"))
    assert chosen == partition
