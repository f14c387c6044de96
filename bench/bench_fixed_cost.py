"""Where a finished run's time goes: per rule, job wall time vs the tracked work inside it.

Reads a finished working directory (``benchmarks/`` written by Snakemake's ``benchmark:``, and
the tracked times the jobs record: ``train_wall_s`` in train.json, ``inference_wall_s_total``
in metrics.json, ``data_wall_s`` in the data stages' cost files) and prints, per rule, the
median job wall time, the median tracked work and their difference (the fixed cost: process
start, imports, tracker start/stop, FLOP counting, file writes), then the pipeline's efficiency
ratio (the pipeline's elapsed time / sum of tracked work; rules with no tracked work count as
fixed cost; elapsed from the first job's start to the last job's end, as the benchmark files'
times and wall times give them) and a calibration figure of the machine (a float32 matmul and
an FFT, one thread), so that runs on different VMs can be set side by side. The trade-off
analysis's share of the time is bench_analysis.py's.
Usage: python bench/bench_fixed_cost.py WORKDIR   (e.g. a directory `snakemake -d` ran in)
Goals (issue 13): median fixed cost per job <= 1.5 s; wall / tracked work <= 1.25.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import pandas as pd

# rule -> (file beside the job's outputs holding its tracked time, key); path from benchmark.
TRACKED = {
    "train": ("train.json", "train_wall_s"),
    "evaluate": ("metrics.json", "inference_wall_s_total"),
}


# the shear flow's data stages -> where their cost files lie (None: the source stats)
DATA_STAGES = {
    "simulate_shear_flow": "simulate",
    "regrid_shear_flow": "regrid",
    "shear_flow_source_stats": None,
}


def tracked_s(workdir: Path, rule: str, benchmark: Path) -> float:
    """The tracked work of the job whose benchmark file is ``benchmark`` (0 if none)."""
    if rule not in (*TRACKED, "generate_dataset", *DATA_STAGES):
        return 0.0
    folder = workdir / "benchmarks" / rule  # a rule without wildcards: benchmarks/{rule}.tsv
    relative = benchmark.relative_to(folder).with_suffix("") if folder.is_dir() else Path()
    if rule in TRACKED:
        name, key = TRACKED[rule]
        path = workdir / "results" / relative / name
    elif rule == "generate_dataset":
        path, key = workdir / "results" / relative / "data" / "data.json", "data_wall_s"
    else:
        stage = DATA_STAGES[rule]
        root = workdir / "results" / "shear_flow" / "data"
        path = root / stage / f"{relative}.json" if stage else root / "simulate" / "stats.json"
        key = "data_wall_s"
    return float(json.loads(path.read_text())[key]) if path.exists() else 0.0


def is_analysis(rule: str, benchmark: Path) -> bool:
    """A job of rules/analysis.smk or the report pages: they re-run whenever a summary changes."""
    from workflow_scripts.figures import LIFECYCLE_CAPTIONS

    return rule in ("analyze", "claims", "report_pages") or (
        rule == "figures" and benchmark.stem in LIFECYCLE_CAPTIONS
    )


def calibration_ms() -> dict[str, float]:
    import torch

    torch.set_num_threads(1)
    a = torch.randn(512, 512)
    signal = torch.randn(2**18)
    timings = {}
    for name, work in (
        ("matmul_512", lambda: a @ a),
        ("rfft_2^18", lambda: torch.fft.rfft(signal)),
    ):
        work()
        start = time.perf_counter()
        for _ in range(20):
            work()
        timings[name] = (time.perf_counter() - start) / 20 * 1000
    return timings


def job_table(workdir: Path) -> pd.DataFrame:
    """A row per job of the finished run: its rule, wall time, end, tracked work, and whether
    it belongs to the trade-off analysis."""
    rows = []
    for benchmark in sorted((workdir / "benchmarks").rglob("*.tsv")):
        parts = benchmark.relative_to(workdir / "benchmarks").parts
        rule = parts[0] if len(parts) > 1 else benchmark.stem  # e.g. benchmarks/claims.tsv
        wall = float(pd.read_csv(benchmark, sep="\t")["s"].iloc[0])
        rows.append(
            {
                "rule": rule,
                "wall_s": wall,
                "end": benchmark.stat().st_mtime,  # written as the job ends
                "tracked_s": tracked_s(workdir, rule, benchmark),
                "analysis": is_analysis(rule, benchmark),
            }
        )
    if not rows:
        raise SystemExit(f"no benchmarks under {workdir / 'benchmarks'}")
    jobs = pd.DataFrame(rows)
    jobs["fixed_s"] = jobs["wall_s"] - jobs["tracked_s"]
    return jobs


def elapsed_s(jobs: pd.DataFrame) -> float:
    """From the first job's start to the last job's end."""
    return float(jobs["end"].max() - (jobs["end"] - jobs["wall_s"]).min())


ELAPSED_HELP = (
    "the pipeline's elapsed time, where the benchmark files' span would include a pause "
    "(a run stopped and resumed: the sum of its segments)"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--elapsed-s", type=float, help=ELAPSED_HELP)
    arguments = parser.parse_args()
    jobs = job_table(arguments.workdir)
    table = jobs.groupby("rule").agg(
        jobs=("wall_s", "size"),
        median_wall_s=("wall_s", "median"),
        median_tracked_s=("tracked_s", "median"),
        median_fixed_s=("fixed_s", "median"),
    )
    print(table.round(2).to_string())
    fixed = statistics.median(jobs["fixed_s"])
    tracked = max(jobs["tracked_s"].sum(), 1e-9)
    elapsed = arguments.elapsed_s or elapsed_s(jobs)
    print(f"\njobs: {len(jobs)}; median fixed cost per job: {fixed:.2f} s (goal <= 1.5)")
    print(
        f"pipeline: elapsed {elapsed:.0f} s, sum of job wall {jobs['wall_s'].sum():.0f} s, "
        f"tracked work {tracked:.0f} s"
    )
    print(f"pipeline efficiency: elapsed / tracked work = {elapsed / tracked:.2f} (goal <= 1.25)")
    print(
        "calibration (1 thread): "
        + ", ".join(f"{k} {v:.2f} ms" for k, v in calibration_ms().items())
    )


if __name__ == "__main__":
    main()
