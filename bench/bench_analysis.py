"""The trade-off analysis's share of the pipeline's time (issue 12: goal < 1 %).

Copies a finished working directory (WORKDIR, e.g. one `snakemake -d` ran in) to a scratch
folder, with its files' times, and re-runs the analysis and report rules there from the cached
results: `snakemake --cores all --forcerun analyze` runs every analyze job, the claims, the
trade-off figures and the report pages (the bench checks Snakemake's plan: nothing upstream).
It runs that twice, timing the whole command (Snakemake's start and DAG included): first with
no warm-worker server, as a re-run more than a minute after the pipeline finds it (the
server's start counted), then with the server warm, as the pipeline itself runs those rules.
Then it times `snakemake --report`. Each is printed against the pipeline's elapsed time (from
WORKDIR's benchmark files, as bench_fixed_cost.py computes it), beside what the analysis jobs
took inside the timed pipeline run (their benchmark files' wall times, summed).
Usage: python bench/bench_analysis.py WORKDIR [--elapsed-s N] [--configfile FILE]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_fixed_cost import ELAPSED_HELP, elapsed_s, job_table

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
# What `--forcerun analyze` may plan: the analysis and report rules (figure_* checked apart).
ANALYSIS_RULES = {"analyze", "claims", "report_pages", "figure_overview", "all"}


def snakemake(workdir: Path, configfile: Path | None, *args: str) -> tuple[float, str]:
    """Wall time and output of Snakemake on ``workdir`` (its own Snakefile if it is a
    checkout, else this one's), with a warm-worker folder of its own beside it: the first
    command starts a server, the next ones find it."""
    snakefile = workdir / "Snakefile"
    if not snakefile.exists():
        snakefile = REPO / "Snakefile"
    command = [SNAKEMAKE, "-s", str(snakefile), "-d", str(workdir), *args]
    if configfile is not None:
        command += ["--configfile", str(configfile.resolve())]  # last: it takes several values
    start = time.perf_counter()
    servers = {"WARM_WORKER_DIR": str(workdir.parent / "warm-worker")}
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **servers})
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"snakemake {' '.join(args)} failed:\n{done.stderr[-4000:]}")
    return elapsed, done.stdout + done.stderr


def planned_rules(plan: str) -> dict[str, int]:
    """Rule -> job count from the "Job stats" table of a dry run."""
    counts: dict[str, int] = {}
    table = plan.split("Job stats:", 1)[1].splitlines()[3:]
    for line in table:
        name, _, count = line.strip().rpartition(" ")
        if not name or name.strip() == "total":
            break
        counts[name.strip()] = int(count)
    return counts


def is_trade_off_figure(rule: str) -> bool:
    """figure_{experiment}_{figure} for one of the trade-off (lifecycle) figures."""
    from workflow_scripts.figures import LIFECYCLE_FIGURES

    return rule.startswith("figure_") and any(rule.endswith(f"_{f}") for f in LIFECYCLE_FIGURES)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--elapsed-s", type=float, help=ELAPSED_HELP)
    parser.add_argument("--configfile", type=Path, help="the config the run was made with")
    arguments = parser.parse_args()
    config = arguments.configfile
    jobs = job_table(arguments.workdir)
    pipeline = arguments.elapsed_s or elapsed_s(jobs)
    in_pipeline = jobs.loc[jobs["analysis"], "wall_s"]

    with tempfile.TemporaryDirectory() as scratch:
        run = Path(scratch) / "run"
        print(f"copying {arguments.workdir} to {run} ...", flush=True)
        shutil.copytree(arguments.workdir, run, symlinks=True)
        _, plan = snakemake(run, config, "-n", "--forcerun", "analyze")
        planned = planned_rules(plan)
        upstream = {r for r in planned if r not in ANALYSIS_RULES and not is_trade_off_figure(r)}
        if upstream:
            sys.exit(f"the re-run would also run {sorted(upstream)}: WORKDIR is not finished")
        cold, _ = snakemake(run, config, "--cores", "all", "--forcerun", "analyze")
        warm, _ = snakemake(run, config, "--cores", "all", "--forcerun", "analyze")
        report, _ = snakemake(run, config, "--report", str(Path(scratch) / "report.html"))

    n_jobs = sum(planned.values()) - planned.get("all", 0)
    print(f"pipeline: elapsed {pipeline:.0f} s ({arguments.workdir}'s benchmark files)")
    print(
        f"re-run of the {n_jobs} analysis and report jobs from cached results "
        "(snakemake --cores all, its start and DAG included):"
    )
    print(
        f"  warm worker running, as in the pipeline: {warm:.1f} s = "
        f"{warm / pipeline:.2%} of the pipeline (goal < 1 %)"
    )
    print(f"  warm worker started by the re-run: {cold:.1f} s = {cold / pipeline:.2%}")
    print(f"snakemake --report: {report:.1f} s = {report / pipeline:.2%}")
    print(
        f"inside the timed pipeline: the {len(in_pipeline)} analysis jobs' wall times add up "
        f"to {in_pipeline.sum():.1f} s = {in_pipeline.sum() / pipeline:.2%} (run beside "
        "training and evaluation jobs on the same cores)"
    )


if __name__ == "__main__":
    main()
