"""Snakemake's own overhead: a no-op re-run and a one-figure regeneration vs the full run.

Runs the default pipeline from scratch in a temporary working directory, then (1) runs it
again with everything up to date and (2) regenerates one figure with everything upstream
cached, and prints each wall time as a ratio to the full run. Goal: each below 0.02.
Usage: python bench/bench_snakemake_overhead.py [--configfile config/config.yaml]
       [--figure figure_oscillator_pareto] [--keep DIR]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


def timed_snakemake(workdir: Path, configfile: Path, *args: str) -> float:
    command = [
        SNAKEMAKE,
        "-s",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--cores",
        "all",
        *args,
        "--configfile",
        str(configfile),
    ]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"snakemake {' '.join(args)} failed:\n{result.stderr[-4000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configfile", type=Path, default=REPO / "config" / "config.yaml")
    parser.add_argument("--figure", default="figure_oscillator_pareto")
    parser.add_argument("--keep", type=Path, help="run here and keep the results")
    args = parser.parse_args()

    workdir = args.keep or Path(tempfile.mkdtemp(prefix="bench_snakemake_"))
    try:
        full = timed_snakemake(workdir, args.configfile.resolve())
        noop = timed_snakemake(workdir, args.configfile.resolve())
        figure = timed_snakemake(
            workdir, args.configfile.resolve(), args.figure, "--forcerun", args.figure
        )
    finally:
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"config: {args.configfile}")
    print(f"full pipeline from scratch: {full:8.1f} s")
    print(f"no-op re-run:               {noop:8.1f} s   ratio {noop / full:.4f}  (goal < 0.02)")
    print(f"regenerate {args.figure}: {figure:8.1f} s   ratio {figure / full:.4f}  (goal < 0.02)")


if __name__ == "__main__":
    main()
