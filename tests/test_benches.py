"""Every bench/ script runs end to end at a tiny size and prints its figures, each a finite,
positive number (their values are not checked: they are meaningful only at the real sizes, on
a quiet machine)."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import tiny_config
from test_shear_flow_experiment import write_stores
from workflow_helpers import only

REPO = Path(__file__).resolve().parents[1]


def run_bench(script: str, *arguments: str) -> str:
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / script), *arguments],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"{script} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def figures(output: str, label: str) -> list[float]:
    """The number printed after each occurrence of ``label`` (a regular expression), each
    finite and positive: a NaN or infinite ratio fails."""
    number = r"[-+]?(?:nan|inf|\d[\d,]*(?:\.\d*)?(?:e[-+]?\d+)?)"
    found = re.findall(rf"{label}\s*({number})", output, flags=re.IGNORECASE)
    assert found, f"{label!r} not printed:\n{output}"
    values = [float(value.replace(",", "")) for value in found]
    assert all(math.isfinite(value) and value > 0 for value in values), (label, values)
    return values


def test_a_nan_figure_fails():
    assert figures("ratio with/without: 1.013  (goal <= 1.03)", "ratio with/without:") == [1.013]
    with pytest.raises(AssertionError):
        figures("ratio with/without: nan  (goal <= 1.03)", "ratio with/without:")


@pytest.mark.parametrize(
    ("script", "arguments", "labels"),
    [
        (
            "bench_codecarbon_overhead.py",
            ("--repeats", "1", "--steps", "20"),
            ("ratio with/without:",),
        ),
        (
            "bench_residual.py",
            ("--points", "64", "--repeats", "1", "--min-seconds", "0.01"),
            ("ratio residual time / plain forward time:", "ratio training step time / FLOP floor:"),
        ),
        (
            "bench_shear_solver.py",
            ("--nx", "16", "--ny", "32", "--steps", "2", "--repeats", "1", "--snapshots", "2"),
            (r"step / FFT\s*:", r"throughput\s*:"),
        ),
    ],
)
def test_bench_prints_its_figures(script, arguments, labels):
    output = run_bench(script, *arguments)
    for label in labels:
        figures(output, label)


def test_regrid_bench_prints_its_goals(tmp_path):
    output = run_bench("bench_regrid.py", "--size-gb", "0.005", "--workdir", str(tmp_path))
    assert len(figures(output, "throughput ratio regrid / plain h5py read:")) == 2  # cold, warm
    figures(output, "goal regrid peak RSS")


def test_shear_training_bench_compares_with_the_well(tmp_path):
    pytest.importorskip("huggingface_hub")
    data = write_stores(tmp_path, nx=16, ny=32)  # the_well's U-Net halves the grid 4 times
    arguments = ("--data", str(data), "--steps", "2", "--the-well", "--rounds", "1")
    output = run_bench("bench_shear_training.py", *arguments)
    assert "data share" in output
    assert len(figures(output, r"/ the_well's at equal parameters on \w+:")) == 2  # U-Net, FNO


def test_fixed_cost_bench_reads_a_finished_run(tmp_path):
    """bench_fixed_cost.py on a hand-made finished run: four 10 s jobs one after the other,
    each with 2 s of tracked work."""
    ends = iter(1_000_000.0 + 10.0 * k for k in range(1, 5))
    for rule, name, key in (
        ("train", "train.json", "train_wall_s"),
        ("evaluate", "metrics.json", "inference_wall_s_total"),
    ):
        for seed in (0, 1):
            run = Path("oscillator", "mlp", f"seed{seed}")
            benchmark = tmp_path / "benchmarks" / rule / run.with_suffix(".tsv")
            benchmark.parent.mkdir(parents=True, exist_ok=True)
            benchmark.write_text("s\th:m:s\n10.0\t0:00:10\n")
            end = next(ends)
            os.utime(benchmark, (end, end))
            result = tmp_path / "results" / run / name
            result.parent.mkdir(parents=True, exist_ok=True)
            result.write_text(f'{{"{key}": 2.0}}')
    output = run_bench("bench_fixed_cost.py", str(tmp_path))
    assert "median fixed cost per job: 8.00 s" in output
    assert "elapsed 40 s, sum of job wall 40 s, tracked work 8 s" in output
    assert "elapsed / tracked work = 5.00" in output
    assert "calibration (1 thread): matmul_512" in output


@pytest.mark.slow
def test_run_memory_bench_counts_the_warm_workers_children(tmp_path):
    """bench_run_memory.py on a one-job run (the oscillator's data): the run's summed PSS, the
    warm worker's share of it and the job's logged peak."""
    config = only(tiny_config(), "oscillator", seeds=[0])
    configfile = tmp_path / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    target = "results/oscillator/data/dataset.nc"  # --configfile last: it takes several values
    snakemake = ("--cores", "2", "-d", str(tmp_path), target, "--configfile", str(configfile))
    output = run_bench("bench_run_memory.py", "--", *snakemake)
    whole = figures(output, r"whole run's peak memory \(summed PSS\):")[0]
    workers = figures(output, "warm worker servers and children at their peak:")[0]
    assert workers < whole
    figures(output, r"largest job peak logged \(ru_maxrss, 1 jobs\):")
