"""Parse + plan time of the default pipeline (`snakemake -n`), this checkout vs another commit.

The Snakefile must parse without importing torch (experiment cards and architecture kinds are
torch-free); this prints the dry-run wall time here and at ``--before`` (a git revision, checked
out into a temporary worktree), alternating them ``--repeats`` times, medians and their ratio.
Usage: python bench/bench_dry_run.py [--before REV] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


def dry_run_s(checkout: Path, workdir: Path) -> float:
    command = [SNAKEMAKE, "-s", str(checkout / "Snakefile"), "-d", str(workdir), "-n", "-c1"]
    command += ["--configfile", str(checkout / "config" / "config.yaml")]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"dry run in {checkout} failed:\n{result.stderr[-3000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="bf13840", help="git revision to compare with")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        before = Path(tmp) / "before"
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "add", "--detach", str(before), args.before],
            check=True,
            capture_output=True,
        )
        try:
            times: dict[str, list[float]] = {"before": [], "now": []}
            for _ in range(args.repeats):  # alternate, so load drifts hit both alike
                for name, checkout in (("before", before), ("now", REPO)):
                    workdir = Path(tmp) / f"work_{name}"
                    workdir.mkdir(exist_ok=True)
                    times[name].append(dry_run_s(checkout, workdir))
        finally:
            subprocess.run(
                ["git", "-C", str(REPO), "worktree", "remove", "--force", str(before)],
                capture_output=True,
            )
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(f"snakemake -n, default config, median of {args.repeats}:")
    print(f"  at {args.before}: {medians['before']:.2f} s")
    print(f"  this checkout: {medians['now']:.2f} s")
    print(f"  now / before: {medians['now'] / medians['before']:.2f}")


if __name__ == "__main__":
    main()
