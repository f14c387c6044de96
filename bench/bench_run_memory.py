"""The whole run's peak memory: Snakemake, its jobs' clients, and the warm worker's servers
with the children that run the jobs.

`/usr/bin/time` and Snakemake's benchmark `max_rss` see only Snakemake and each job's client
process; with the warm worker on, the work runs in children of a server that Snakemake did
not start, so neither sees it. This bench runs Snakemake with the arguments given (after
`--`), with a warm-worker folder of its own so that it knows the run's servers, and samples
every process of the run every --interval seconds: Snakemake's process tree, and each server
with its children. It prints the peak of their summed PSS (proportional set size: a page
shared by n processes counts 1/n in each, so the sum is the memory the run occupies), the peak
of their summed RSS (shared pages counted once per process: an over-count), the largest RSS of
Snakemake or a job's client (what `/usr/bin/time` reports), and the largest peak any job's
process logged (`ru_maxrss`, which sampling cannot miss; the warm worker's children count the
server pages they share).
Usage: python bench/bench_run_memory.py [--interval S] -- SNAKEMAKE-ARGUMENTS
e.g.   python bench/bench_run_memory.py -- --cores all --directory run/
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
MB = 1024  # smaps_rollup counts kB
JOB_PEAK = re.compile(r"peak memory of this job's process: (\d+) MB")


def rollup_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of a process in kB, or zeros where it has ended."""
    rss = pss = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return rss, pss


def server_pids(folder: Path) -> set[int]:
    """The warm-worker servers that logged their start in ``folder``."""
    pids = set()
    for log in folder.glob("*.log"):
        for line in log.read_text().splitlines():
            if line.startswith("warm worker "):
                pids.add(int(line.split()[2]))
    return pids


def tree(pid: int) -> set[int]:
    try:
        process = psutil.Process(pid)
        return {pid} | {child.pid for child in process.children(recursive=True)}
    except psutil.NoSuchProcess:
        return set()


def job_peaks_mb(workdir: Path) -> list[int]:
    """Each job's logged peak (ru_maxrss), from the logs under ``workdir``/logs."""
    peaks = []
    for log in (workdir / "logs").rglob("*.log"):
        peaks += [int(mb) for mb in JOB_PEAK.findall(log.read_text(errors="replace"))]
    return peaks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between samples")
    parser.add_argument("snakemake", nargs=argparse.REMAINDER, help="-- then Snakemake's")
    arguments = parser.parse_args()
    given = [a for a in arguments.snakemake if a != "--"]
    workdir = Path(
        next((given[i + 1] for i, a in enumerate(given[:-1]) if a in ("-d", "--directory")), ".")
    )
    folder = Path(tempfile.mkdtemp(prefix="bench-run-memory-"))  # private: mkdtemp's 0700
    command = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), *given]
    environment = {**os.environ, "WARM_WORKER_DIR": str(folder)}
    started = time.perf_counter()
    run = subprocess.Popen(command, env=environment)
    peak = {"pss": 0, "rss": 0, "largest_client_rss": 0, "workers_pss": 0}
    samples = 0
    while run.poll() is None:
        workers = set().union(*(tree(pid) for pid in server_pids(folder)))
        clients = tree(run.pid)
        sizes = {pid: rollup_kb(pid) for pid in clients | workers}
        peak["pss"] = max(peak["pss"], sum(pss for _, pss in sizes.values()))
        peak["rss"] = max(peak["rss"], sum(rss for rss, _ in sizes.values()))
        peak["workers_pss"] = max(peak["workers_pss"], sum(sizes[pid][1] for pid in workers))
        largest = max((sizes[pid][0] for pid in clients), default=0)
        peak["largest_client_rss"] = max(peak["largest_client_rss"], largest)
        samples += 1
        time.sleep(arguments.interval)
    elapsed = time.perf_counter() - started
    for pid in server_pids(folder):  # the run is over: its servers need not idle out
        with contextlib.suppress(psutil.NoSuchProcess):
            psutil.Process(pid).terminate()
    shutil.rmtree(folder)
    if run.returncode != 0:
        sys.exit(f"snakemake failed ({run.returncode})")
    jobs = job_peaks_mb(workdir)
    print(f"run: {elapsed:.0f} s, {samples} samples every {arguments.interval:g} s")
    print(f"whole run's peak memory (summed PSS): {peak['pss'] / MB:.0f} MB")
    print(f"  of which warm worker servers and children at their peak: "
          f"{peak['workers_pss'] / MB:.0f} MB")  # fmt: skip
    print(f"summed RSS peak (shared pages counted per process): {peak['rss'] / MB:.0f} MB")
    print(f"largest RSS of Snakemake or a job's client (what /usr/bin/time reports): "
          f"{peak['largest_client_rss'] / MB:.0f} MB")  # fmt: skip
    if jobs:
        print(f"largest job peak logged (ru_maxrss, {len(jobs)} jobs): {max(jobs)} MB")


if __name__ == "__main__":
    main()
