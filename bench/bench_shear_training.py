"""Shear-flow training throughput per variant, and the share of step time spent on data.

For each configured variant: samples per second over full optimiser steps (batch assembly,
forward, loss, backward, AdamW step), and the time of assembling the same batches alone, as a
share of the step time. Goal: data <= 10 % of step time. Needs the regridded stores of the
default pipeline (`snakemake --cores all results/shear_flow/data/train.zarr` and the valid/test
stores); usage: python bench/bench_shear_training.py [--data results/shear_flow/data]
[--steps 30] [--threads 2]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from workflow_scripts.config import load_config, models_of, variant_spec
from workflow_scripts.experiments.base import VariantSpec
from workflow_scripts.training import make_optimizer, open_experiment, weighted_loss

REPO = Path(__file__).resolve().parents[1]


def measure_variant(spec: VariantSpec, data: Path, steps: int) -> tuple[int, float, float]:
    """Batch size, seconds per optimiser step, and seconds to assemble one batch alone."""
    experiment = open_experiment(spec, seed=0, data_path=data, device_name="auto")
    model = experiment.build_model(spec)
    optimizer = make_optimizer(model, spec.training)
    train = experiment.splits["train"]
    batch_size = spec.training["batch_size"]

    def step() -> None:
        loss = weighted_loss(experiment.loss_terms(model, spec), spec.loss_weights)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def assemble() -> None:
        rows = torch.randint(len(train), (batch_size,), generator=experiment.generator)
        train.batch(rows.to(train.index.device))

    seconds = []
    for run in (step, assemble):
        run()  # warm-up: first calls pay for allocation
        start = time.perf_counter()
        for _ in range(steps):
            run()
        seconds.append((time.perf_counter() - start) / steps)
    return batch_size, seconds[0], seconds[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO / "results" / "shear_flow" / "data")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if not (args.data / "train.zarr").exists():
        raise SystemExit(f"{args.data}/train.zarr not found: run the data stage first (see --help)")

    config = load_config(REPO / "config" / "config.yaml")
    print(f"{'variant':15s} {'samples/s':>10s} {'step ms':>8s} {'data ms':>8s} {'data share':>10s}")
    for model_name in models_of(config, "shear_flow"):
        spec = VariantSpec.from_dict(variant_spec(config, "shear_flow", model_name))
        if args.threads:
            spec.training["threads"] = args.threads
        batch_size, step_s, data_s = measure_variant(spec, args.data, args.steps)
        print(
            f"{model_name:15s} {batch_size / step_s:10.1f} {1e3 * step_s:8.1f} "
            f"{1e3 * data_s:8.2f} {data_s / step_s:10.3%}"
        )
    print("goal: data share <= 10 % of step time")


if __name__ == "__main__":
    main()
