"""The whole oscillator branch of the DAG, through the Snakemake CLI, on a tiny config."""

from __future__ import annotations

import contextlib
import copy
import html
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from browser import chromium, rendered_dom, screenshot, without_scripts
from conftest import tiny_config
from workflow_helpers import (
    REPO,
    after_summary,
    assert_experiment_outputs,
    only,
    planned_jobs,
    snakemake,
)

from workflow_scripts.figures import LIFECYCLE_FIGURES

pytestmark = pytest.mark.slow

MODELS = ("mlp", "pinn", "pinn_hard")
FIGURES = ("pareto", "predictions", "learning_curves")


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("oscillator_workflow")
    config = only(tiny_config(), "oscillator", seeds=[0, 1])
    # a training-budget sweep of one variant: its own targets, and the analysis's sweep arm
    config["experiments"]["oscillator"]["sweeps"] = {
        "budget": {"models": ["mlp"], "points": [{"training.steps": 30}]}
    }
    run = snakemake(workdir, config)
    return workdir, config, run


def test_every_output_exists_with_finite_numbers(finished):
    workdir, _, _ = finished
    assert_experiment_outputs(workdir, "oscillator", MODELS, FIGURES)


def test_a_sweep_point_is_its_own_run_and_reaches_the_analysis(finished):
    workdir, _, _ = finished
    results = workdir / "results"
    point = json.loads((results / "oscillator/mlp/steps30/seed0/train.json").read_text())
    assert point["train_steps"] == 30 and point["spec"]["point"] == "steps30"
    summary = pd.read_csv(results / "oscillator" / "summary.csv")
    assert sorted(summary.loc[summary["point"] == "steps30", "model"]) == ["mlp", "mlp"]
    assert (summary.loc[summary["point"] == "steps30", "sweep_key"] == "training.steps").all()
    statistics = pd.read_csv(results / "oscillator" / "analysis" / "statistics.csv")
    seeds = statistics.loc[statistics["metric"] == "test_mse", ["model", "point", "n_seeds"]]
    assert set(map(tuple, seeds[["model", "point"]].values)) == {
        ("mlp", "base"),
        ("mlp", "steps30"),
        ("pinn", "base"),
        ("pinn_hard", "base"),
    }
    assert (seeds["n_seeds"] == 2).all()
    claims = pd.read_csv(results / "claims.csv")
    oscillator = claims[claims["experiment"] == "oscillator"]
    assert set(oscillator["claim_verdict"]) <= {"supported", "contradicted", "inconclusive"}
    assert "1" in set(oscillator["claim_id"].astype(str))
    burgers = claims[claims["experiment"] == "burgers"]
    assert (burgers["claim_verdict"] == "inconclusive").all()  # not run here, and it says so
    for figure in ("pareto_lifecycle", "break_even", "energy_to_target", "sweep"):
        assert (results / "figures" / "oscillator" / f"{figure}.png").stat().st_size > 5000
    assert (results / "figures" / "overview.png").stat().st_size > 5000


def test_a_new_sweep_point_plans_only_its_own_jobs(finished):
    workdir, config, _ = finished
    changed = copy.deepcopy(config)
    changed["experiments"]["oscillator"]["sweeps"]["budget"]["points"].append(
        {"training.steps": 40}
    )
    planned = planned_jobs(snakemake(workdir, changed, "--dry-run"))
    assert planned == {"train": 2, "evaluate": 2} | after_summary("oscillator", FIGURES)


def test_rerun_has_nothing_to_do(finished):
    workdir, config, _ = finished
    result = snakemake(workdir, config, "--dry-run")
    assert "Nothing to be done" in result.stdout + result.stderr


def _lifecycle_predictions(config):
    config["carbon"]["lifecycle_predictions"] = 5000


def _rollout_steps(config):  # the shear flow's alone
    config["evaluation"]["rollout_steps"] = 5


def _threads(config):  # Snakemake's `threads:`, no param
    config["experiments"]["oscillator"]["training"]["threads"] = 2


@pytest.mark.parametrize(
    "change, planned",
    [
        (
            _lifecycle_predictions,
            after_summary("oscillator", FIGURES),
        ),
        (_rollout_steps, {}),
        (_threads, {}),
    ],
    ids=["lifecycle-predictions", "rollout-steps", "threads"],
)
def test_a_setting_re_runs_only_the_jobs_that_use_it(finished, change, planned):
    workdir, config, _ = finished
    changed = copy.deepcopy(config)
    change(changed)
    assert planned_jobs(snakemake(workdir, changed, "--dry-run")) == planned


def test_one_figure_regenerates_by_rule_name_and_by_path(finished):
    workdir, config, _ = finished
    figure = workdir / "results" / "figures" / "oscillator" / "pareto.png"
    before = figure.stat().st_mtime_ns
    result = snakemake(
        workdir, config, "figure_oscillator_pareto", "--forcerun", "figure_oscillator_pareto"
    )
    assert figure.stat().st_mtime_ns > before
    log = result.stdout + result.stderr
    assert "rule train" not in log and "rule evaluate" not in log
    target = workdir / "results" / "figures" / "oscillator" / "learning_curves.pdf"
    target.unlink()
    snakemake(workdir, config, "results/figures/oscillator/learning_curves.pdf")
    assert target.stat().st_size > 5000


def test_the_analysis_bench_re_runs_only_the_analysis_from_the_cached_results(finished):
    """bench_analysis.py on the finished run: it copies it, checks the re-run's plan holds only
    the analysis and report rules, and prints each time against the run's."""
    workdir, _, _ = finished
    bench = REPO / "bench" / "bench_analysis.py"
    configfile = ("--configfile", str(workdir / "config.yaml"))
    before = sorted((p, p.stat().st_mtime) for p in (workdir / "results").rglob("*.csv"))
    done = subprocess.run(
        [sys.executable, str(bench), str(workdir), *configfile],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    # one experiment: its analyze and trade-off figures; the overview, claims and pages
    jobs = len(LIFECYCLE_FIGURES) + 4
    assert f"re-run of the {jobs} analysis and report jobs" in done.stdout, done.stdout
    for line in ("warm worker running, as in the pipeline", "snakemake --report", "goal < 1 %"):
        assert line in done.stdout, line
    # the finished run itself is left as it was
    assert sorted((p, p.stat().st_mtime) for p in (workdir / "results").rglob("*.csv")) == before


@pytest.fixture(scope="module")
def built_report(finished):
    """`snakemake --report` on the finished run, and how long it took."""
    workdir, config, _ = finished
    started = time.perf_counter()
    snakemake(workdir, config, "--report", "results/report.html")
    return workdir / "results" / "report.html", time.perf_counter() - started


def test_report_builds(built_report):
    report, seconds = built_report
    assert report.stat().st_size > 10_000
    assert seconds < 120, seconds  # from cached results: no job runs


def test_report_shows_the_claims_and_every_figure_in_a_browser(finished, built_report, tmp_path):
    """Headless Chromium renders the report: the start page shows the claims table, the seeds
    and the energy method, and lists every figure, each embedded in the one file. The
    screenshot goes to $REPORT_SCREENSHOT where set."""
    browser = chromium()
    workdir = finished[0]
    report, _ = built_report
    dom = rendered_dom(browser, report, tmp_path / "profile")
    shown = without_scripts(dom)  # what the page shows, not the data its scripts hold

    claims = pd.read_csv(workdir / "results" / "claims.csv")  # a row per part's comparison
    claims = claims.drop_duplicates(["claim_id", "experiment"])
    assert "<h2>Claims</h2>" in shown
    assert shown.count('<span class="verdict ') == len(claims)
    for claim, verdict in zip(claims["claim"], claims["claim_verdict"], strict=True):
        assert html.escape(claim, quote=False) in shown, claim
        assert f'<span class="verdict {verdict}">{verdict}</span>' in shown
    assert "Seeds per variant (each interval rests on these): oscillator: 2." in shown
    assert "Every energy figure in this report is an estimate" in shown

    figures = sorted((workdir / "results" / "figures").rglob("*.p[nd][gf]"))
    assert len(figures) == 2 * (len(FIGURES) + 4 + 1)  # the card's, the analysis', overview
    for figure in figures:
        assert f">{figure.name}</a>" in shown, figure.name  # listed on the start page
        assert f'"{figure.relative_to(workdir).as_posix()}": {{' in dom  # and embedded
    pngs = sum(f.suffix == ".png" for f in figures)
    assert dom.count('"data_uri": "data:image/png;') == pngs
    assert dom.count('"data_uri": "data:application/pdf;') == len(figures) - pngs
    for page in ("claims.html", "run.html", "tables.html"):
        assert f">{page}</a>" in shown, page

    shot = screenshot(browser, report, tmp_path / "profile", tmp_path / "report.png")
    assert shot.stat().st_size > 20_000
    if os.environ.get("REPORT_SCREENSHOT"):
        shutil.copyfile(shot, Path(os.environ["REPORT_SCREENSHOT"]))


def test_lint_passes():
    result = snakemake(REPO, None, "--lint", check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_bad_config_stops_before_any_job(tmp_path):
    config = only(tiny_config(), "oscillator")
    config["experiments"]["oscillator"]["training"]["steps"] = -1
    result = snakemake(tmp_path, config, check=False)
    assert result.returncode != 0
    assert "experiments.oscillator.training.steps" in result.stderr
    assert not (tmp_path / "results").exists()


@contextlib.contextmanager
def file_size_limit(limit_bytes: int) -> Iterator[None]:
    """Processes started inside may write no file past ``limit_bytes`` (RLIMIT_FSIZE), as on a
    full disk or quota: such a write fails with EFBIG (Python ignores SIGXFSZ)."""
    previous = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, previous[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, previous)


def test_failed_job_leaves_no_complete_looking_output(tmp_path):
    """A training fails after it wrote its first output: its emissions CSV exists (the meter
    logged its reading) when its 8 MB model.pt cannot be written past a 1 MB file limit.
    Nothing in its run folder looks complete afterwards: not the CSV, not a partial model."""
    config = only(tiny_config(), "oscillator", seeds=[0])
    config["experiments"]["oscillator"]["models"]["mlp"]["architecture"]["width"] = 1024
    snakemake(tmp_path, config, "results/oscillator/data/dataset.nc")  # before the limit
    with file_size_limit(1 << 20):
        result = snakemake(tmp_path, config, "results/oscillator/mlp/seed0/train.json", check=False)
    assert result.returncode != 0
    log = (tmp_path / "logs" / "train" / "oscillator" / "mlp" / "seed0.log").read_text()
    assert re.search(r"train: \S+ kWh \(", log), log[-3000:]  # the meter wrote its CSV, then
    assert "torch/serialization.py" in log.split("job failed")[1]  # saving the model failed
    run = tmp_path / "results" / "oscillator" / "mlp" / "seed0"
    assert not run.exists() or not any(run.iterdir()), sorted(run.iterdir())


def test_a_variant_switched_off_in_a_configfile_leaves_the_plan(tmp_path):
    config = only(tiny_config(), "oscillator", seeds=[0])
    config["experiments"]["oscillator"]["models"]["pinn_hard"]["enabled"] = False
    plan = snakemake(tmp_path, config, "--dry-run").stdout
    assert "results/oscillator/pinn/seed0/model.pt" in plan
    assert "pinn_hard" not in plan
