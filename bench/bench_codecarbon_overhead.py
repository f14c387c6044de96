"""Overhead of energy tracking: the same training with and without codecarbon's tracker.

Runs the default oscillator `pinn` training alternately with the real tracker (as the
pipeline does: background sampling plus cumulative-energy reads before and after every
learning-curve evaluation) and with a stand-in that reads nothing, and prints the ratio of
median wall times.
Goal: <= 1.03. Usage: python bench/bench_codecarbon_overhead.py [--repeats 5] [--steps 2000]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from workflow_scripts.config import load_config, variant_spec
from workflow_scripts.data.pointwise import generate_dataset
from workflow_scripts.energy import NOTHING_SPENT, CarbonSettings, EnergyMeter
from workflow_scripts.experiments import dataset_maker
from workflow_scripts.experiments.base import VariantSpec
from workflow_scripts.families.runs import open_experiment
from workflow_scripts.training import fit

REPO = Path(__file__).resolve().parents[1]


class NoMeter:
    """Same interface as EnergyMeter, measures nothing."""

    def __enter__(self) -> NoMeter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def spent_so_far(self) -> dict[str, float]:
        return dict(NOTHING_SPENT)


def timed_training(spec: VariantSpec, data: Path, meter_factory) -> float:
    experiment = open_experiment(spec, seed=0, data_path=data, device_name="cpu")
    model = experiment.build_model(spec)
    start = time.perf_counter()
    with meter_factory() as meter:
        fit(experiment, model, spec, meter)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=2000)
    args = parser.parse_args()

    config = load_config(REPO / "config" / "config.yaml")
    config["experiments"]["oscillator"]["training"]["steps"] = args.steps
    spec = VariantSpec.from_dict(variant_spec(config, "oscillator", "pinn"))
    carbon = CarbonSettings.from_config(config["carbon"])
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = tmp / "dataset.nc"
        generate_dataset(
            dataset_maker("oscillator"),
            config["experiments"]["oscillator"]["data"],
            dataset_path=data,
            cost_path=tmp / "data.json",
            emissions_path=tmp / "data.csv",
            carbon=carbon,
        )
        timed_training(spec, data, NoMeter)  # warm-up: first run pays for lazy imports
        tracked, untracked = [], []
        for i in range(args.repeats):  # alternate so drifts in machine load hit both alike
            untracked.append(timed_training(spec, data, NoMeter))
            tracked.append(
                timed_training(
                    spec, data, lambda i=i: EnergyMeter(carbon, tmp / f"e{i}.csv", "bench")
                )
            )
    with_tracker, without = statistics.median(tracked), statistics.median(untracked)
    print(f"training: oscillator/pinn, {args.steps} steps, {args.repeats} alternating repeats")
    print(f"median wall time without tracker: {without:.3f} s  {sorted(untracked)}")
    print(f"median wall time with tracker:    {with_tracker:.3f} s  {sorted(tracked)}")
    print(f"ratio with/without: {with_tracker / without:.3f}  (goal <= 1.03)")


if __name__ == "__main__":
    main()
