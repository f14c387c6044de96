"""Shear-flow training throughput per variant, and the share of step time spent on data.

For each configured variant: samples per second over full optimiser steps (batch assembly,
forward, loss, backward, AdamW step), and the time of assembling the same batches alone, as a
share of the step time. Goal: data <= 10 % of step time.

With ``--the-well``, the_well's own benchmark U-Net (UNetClassic) and FNO are trained the same
way (same batches, loss on z-scored fields, AdamW), each at the parameter count nearest to ours,
and the ratio ours / theirs is printed (goal >= 1.0, on a GPU). That needs the ``[test]`` extra
(``the-well`` and ``huggingface_hub``).

Needs the regridded stores of the default pipeline (`snakemake --cores all
results/shear_flow/data/train.zarr` and the valid/test stores); usage:
python bench/bench_shear_training.py [--data results/shear_flow/data] [--steps 30]
[--threads 2] [--batch-size B] [--device auto|cpu|cuda] [--the-well]
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import statistics
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from workflow_scripts.config import load_config, models_of, variant_spec
from workflow_scripts.experiments.base import VariantSpec
from workflow_scripts.experiments.shear_flow import INPUT_FRAMES
from workflow_scripts.families.forecasting import FIELDS, ShearFlowExperiment
from workflow_scripts.families.runs import open_experiment
from workflow_scripts.measurement import count_parameters, synchronize
from workflow_scripts.training import make_optimizer, weighted_loss

REPO = Path(__file__).resolve().parents[1]


def seconds_per_call(run: Callable[[], object], device: torch.device, calls: int) -> float:
    run()  # warm-up: first calls pay for allocation and kernel selection
    synchronize(device)
    start = time.perf_counter()
    for _ in range(calls):
        run()
    synchronize(device)
    return (time.perf_counter() - start) / calls


def measure(
    experiment: ShearFlowExperiment,
    model: nn.Module,
    spec: VariantSpec,
    steps: int,
    loss: Callable[[], torch.Tensor] | None = None,
) -> tuple[float, float]:
    """Seconds per optimiser step, and seconds to assemble one batch alone."""
    optimizer = make_optimizer(model, spec.training)
    train = experiment.splits["train"]
    batch_size = spec.training["batch_size"]
    loss = loss or (lambda: weighted_loss(experiment.loss_terms(model, spec), spec.loss_weights))

    def step() -> None:
        value = loss()
        optimizer.zero_grad(set_to_none=True)
        value.backward()
        optimizer.step()

    def assemble() -> None:
        rows = torch.randint(len(train), (batch_size,), generator=experiment.generator)
        train.batch(rows.to(train.index.device))

    device = experiment.device
    return seconds_per_call(step, device, steps), seconds_per_call(assemble, device, steps)


def import_the_well_model(module: str) -> types.ModuleType:
    """One of the_well's model modules, without the package's ``__init__``.

    That ``__init__`` imports all eight models, and AFNO's pulls in timm and torchvision, whose
    PyPI builds must match torch's exactly (installing them can replace the pinned torch). The
    U-Net and FNO modules need only huggingface_hub.
    """
    package = "the_well.benchmark.models"
    if package not in sys.modules:
        found = importlib.util.find_spec(package)
        if found is None:
            raise ImportError(f"no module named {package!r}", name="the_well")
        stand_in = types.ModuleType(package)
        stand_in.__path__ = list(found.submodule_search_locations or [])
        sys.modules[package] = stand_in
    return importlib.import_module(f"{package}.{module}")


def the_well_models(
    like: dict[str, int], modes: tuple[int, int], height: int, width: int
) -> dict[str, tuple[str, nn.Module]]:
    """the_well's UNetClassic and FNO, each sized to the parameter count of our unet / fno.

    the_well 1.2 pins neuraloperator 0.3; under the 2.x this project uses, its FNO wrapper cannot
    be built. Then its stand-in is neuraloperator 2's FNO set up as the_well's (0.3 defaults:
    256 lifting/projection channels, no channel MLP, no positional embedding), and says so.
    """
    try:
        WellFNO = import_the_well_model("fno").FNO
        UNetClassic = import_the_well_model("unet_classic").UNetClassic
    except ImportError as error:
        raise SystemExit(
            f"--the-well needs the_well's models ({error.name} is missing): "
            'pip install -e ".[test]"'
        ) from error

    channels_in, channels_out = INPUT_FRAMES * FIELDS, FIELDS

    def well_fno(hidden: int) -> nn.Module:
        return WellFNO(
            channels_in, channels_out, 2, (height, width), *modes, hidden_channels=hidden
        )

    def stand_in_fno(hidden: int) -> nn.Module:
        from neuralop.models import FNO

        return FNO(
            n_modes=modes,
            in_channels=channels_in,
            out_channels=channels_out,
            hidden_channels=hidden,
            lifting_channel_ratio=256 / hidden,
            projection_channel_ratio=256 / hidden,
            positional_embedding=None,
            use_channel_mlp=False,
        )

    try:
        well_fno(8)
        fno_builder = ("the_well FNO", well_fno)
    except TypeError as error:
        print(f"the_well's FNO cannot be built here ({error}): using a stand-in")
        fno_builder = ("the_well-style FNO (neuralop 2 stand-in)", stand_in_fno)
    builders = {
        "unet": (
            "the_well UNetClassic",
            lambda n: UNetClassic(channels_in, channels_out, 2, (height, width), init_features=n),
        ),
        "fno": fno_builder,
    }
    chosen = {}
    for ours, (label, build) in builders.items():
        if ours in like:
            n = min(range(2, 65), key=lambda n: abs(count_parameters(build(n)) - like[ours]))
            chosen[ours] = (label, build(n))
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO / "results" / "shear_flow" / "data")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--the-well", action="store_true", help="compare with the_well's models")
    parser.add_argument(
        "--rounds", type=int, default=5, help="alternating rounds per pair in --the-well (median)"
    )
    args = parser.parse_args()
    if not (args.data / "train.zarr").exists():
        raise SystemExit(f"{args.data}/train.zarr not found: run the data stage first (see --help)")

    config = load_config(REPO / "config" / "config.yaml")
    rows: dict[str, float] = {}
    parameters: dict[str, int] = {}
    built: dict[str, tuple[ShearFlowExperiment, nn.Module, VariantSpec]] = {}
    print(
        f"{'variant':22s} {'params':>8s} {'samples/s':>10s} {'step ms':>8s} {'data ms':>8s} "
        f"{'data share':>10s}"
    )

    def report(name: str, n_parameters: int, batch_size: int, step_s: float, data_s: float) -> None:
        rows[name] = batch_size / step_s
        print(
            f"{name:22s} {n_parameters:8d} {rows[name]:10.1f} {1e3 * step_s:8.2f} "
            f"{1e3 * data_s:8.3f} {data_s / step_s:10.2%}"
        )

    for model_name in models_of(config, "shear_flow"):
        spec = VariantSpec.from_dict(variant_spec(config, "shear_flow", model_name))
        if args.threads:
            spec.training["threads"] = args.threads
        if args.batch_size:
            spec.training["batch_size"] = args.batch_size
        experiment = open_experiment(spec, seed=0, data_path=args.data, device_name=args.device)
        model = experiment.build_model(spec)
        built[model_name] = (experiment, model, spec)
        parameters[model_name] = count_parameters(model)
        step_s, data_s = measure(experiment, model, spec, args.steps)
        report(model_name, parameters[model_name], spec.training["batch_size"], step_s, data_s)
    print(f"device: {experiment.device}; goal: data share <= 10 % of step time")

    if args.the_well:
        # Ours and theirs alternate, round by round, so that clock and load drift on a shared
        # machine hit both alike; each figure is the median over rounds.
        height, width = experiment.splits["train"].series.shape[-2:]
        modes = tuple(variant_spec(config, "shear_flow", "fno")["architecture"]["modes"])
        print(f"the_well comparison: median of {args.rounds} alternating rounds")
        for ours, (name, theirs) in the_well_models(parameters, modes, height, width).items():
            experiment, model, spec = built[ours]
            theirs = theirs.to(experiment.device)
            batch_size = spec.training["batch_size"]

            def loss(
                theirs: nn.Module = theirs,
                experiment: ShearFlowExperiment = experiment,
                batch_size: int = batch_size,
            ) -> torch.Tensor:
                train = experiment.splits["train"]
                rows = torch.randint(len(train), (batch_size,), generator=experiment.generator)
                inputs, target, _ = train.batch(rows.to(train.index.device))
                return (theirs(inputs) - target).square().mean()

            times: dict[str, list[tuple[float, float]]] = {ours: [], name: []}
            for _ in range(args.rounds):
                times[ours].append(measure(experiment, model, spec, args.steps))
                times[name].append(measure(experiment, theirs, spec, args.steps, loss))
            for label, module in ((ours, model), (name, theirs)):
                step_s, data_s = (statistics.median(t) for t in zip(*times[label], strict=True))
                report(label, count_parameters(module), batch_size, step_s, data_s)
            print(
                f"  ours ({ours}) / the_well's at equal parameters on {experiment.device}: "
                f"{rows[ours] / rows[name]:.2f}x samples/s (goal >= 1.0 on a GPU)"
            )


if __name__ == "__main__":
    main()
