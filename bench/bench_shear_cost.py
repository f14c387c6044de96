"""The shear flow's cost at the study's scale, measured on a machine without a GPU.

For each shear-flow variant of a config (default ``config/paper.yaml``: The Well's 256 x 512
grid, batch 16, The Well's baseline sizes), built by the project's own code (the config's
variant settings, ``ShearFlowExperiment.build_model``) on synthetic stores of that grid (random
fields: the values do not change the cost), it measures what a CPU can:

- FLOPs per training step, by the project's counter (``measurement.count_flops``) over what
  ``training.py`` counts (the variant's loss and its backward), and per forecast (what
  ``evaluation.py`` counts: one forecast step of one test window, every ODE step of flow
  matching included). FLOPs are hardware-neutral;
- parameters (``measurement.count_parameters``: real numbers, a complex weight twice);
- the peak memory of training steps: peak RSS (``getrusage``'s ru_maxrss) of a process of its
  own per variant, minus that process's RSS with the data and the model loaded;
- CPU seconds (process time, all threads) and wall seconds per optimiser step, over ``--steps``
  steps after one warm-up step (the FLOP count's), and the wall seconds of one forecast.

One step of the study's 16 windows takes minutes on a CPU, so steps are timed at ``--batch``
windows (default 1). FLOPs are counted at that batch and scaled to the study's: every counted
operation acts on each window alone, so they are linear in the batch
(tests/test_bench_shear_cost.py checks it per variant). From these figures it projects the
study's training budget (the config's steps): FLOPs, and CPU time on this machine, assuming
step time linear in the batch; both are labelled projections. Then it evaluates the cost parts
of claims 4, 5 and 6 (workflow_scripts/analysis/claims.py) on the FLOPs. The accuracy at this
scale is not measured: nothing here trains beyond a few steps.

usage: python bench/bench_shear_cost.py [--config config/paper.yaml] [--batch 1] [--steps 2]
[--threads N] [--grid NX NY]
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import os
import resource
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import psutil
import torch
import xarray as xr
import yaml

from workflow_scripts.config import check_configuration, config_schema, models_of, variant_spec
from workflow_scripts.data.zarr_store import write_training_store
from workflow_scripts.experiments.base import VariantSpec
from workflow_scripts.experiments.shear_flow import INPUT_FRAMES
from workflow_scripts.families.runs import open_experiment
from workflow_scripts.measurement import count_flops, count_parameters
from workflow_scripts.physics.fields import FIELD_NAMES
from workflow_scripts.training import make_optimizer, weighted_loss

REPO = Path(__file__).resolve().parents[1]
EXPERIMENT = "shear_flow"
# The claims' variant groups (workflow_scripts/analysis/claims.py, claims 4 and 5).
FNOS = ("fno", "fno_divfree")
UNETS = ("unet", "unet_physloss")
FLOW_MATCHING = "flow_matching"
#: The physics-prior levels from none to the strongest, as config/schema.yaml lists them.
PRIOR_LEVELS = config_schema()["$defs"]["field_variant"]["properties"]["physics_bias"]["enum"]


@dataclasses.dataclass(frozen=True)
class VariantCost:
    """One variant's measured cost; the projections are properties."""

    model: str
    physics_bias: str
    parameters: int
    study_batch: int
    study_steps: int
    flops_per_train_step: int  # at the study's batch
    flops_per_forecast: int
    evaluations_per_forecast: int
    timed_batch: int
    cpu_s_per_step: float  # at the timed batch
    wall_s_per_step: float
    wall_s_per_forecast: float
    step_peak_memory_mb: float  # at the timed batch

    @property
    def train_flops_total(self) -> int:
        """Projection: the study's training budget in FLOPs."""
        return self.flops_per_train_step * self.study_steps

    @property
    def projected_cpu_s(self) -> float:
        """Projection: CPU seconds for the study's budget, step time linear in the batch."""
        return self.cpu_s_per_step * self.study_batch / self.timed_batch * self.study_steps

    @property
    def projected_wall_s(self) -> float:
        return self.wall_s_per_step * self.study_batch / self.timed_batch * self.study_steps


def study_variants(
    config_path: Path, grid: tuple[int, int] | None = None
) -> tuple[dict[str, VariantSpec], tuple[int, int]]:
    """The shear-flow variants of the config (merged over the default, as Snakemake does) and
    its regridded grid (nx, ny); ``grid`` replaces that grid, checked as a config file of its
    own would be (the U-Net's levels, the FNO's modes, flow matching's pooling)."""
    with tempfile.TemporaryDirectory() as directory:
        paths = [config_path]
        if grid:
            paths.append(Path(directory, "grid.yaml"))
            regrid = {"regrid": {"nx": grid[0], "ny": grid[1]}}
            paths[-1].write_text(yaml.safe_dump({"experiments": {EXPERIMENT: {"data": regrid}}}))
        config = check_configuration(paths)
    specs = {
        model: VariantSpec.from_dict(variant_spec(config, EXPERIMENT, model))
        for model in models_of(config, EXPERIMENT)
    }
    regrid = config["experiments"][EXPERIMENT]["data"]["regrid"]
    return specs, (regrid["nx"], regrid["ny"])


def write_synthetic_stores(directory: Path, nx: int, ny: int) -> Path:
    """Train, valid and test stores of one trajectory of random fields on an nx x ny grid,
    long enough for one window, written by the regrid stage's writer (with its stats)."""
    rng = np.random.default_rng(0)
    frames = INPUT_FRAMES + 1
    for split in ("train", "valid", "test"):
        dims = ("trajectory", "time", "x", "y")
        fields = {
            name: (dims, rng.standard_normal((1, frames, nx, ny), dtype=np.float32))
            for name in FIELD_NAMES
        }
        dataset = xr.Dataset(
            fields,
            coords={  # The Well's middle Re at Sc = 1; the values do not change the cost
                "time": 0.1 * np.arange(frames),
                "reynolds": ("trajectory", [1.0e5]),
                "schmidt": ("trajectory", [1.0]),
            },
        )
        write_training_store(dataset, directory / f"{split}.zarr", time_chunk=frames)
    return directory


def _per_call(run: Callable[[], object], calls: int) -> tuple[float, float]:
    """CPU seconds (this process, all threads) and wall seconds per call of ``run``."""
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(calls):
        run()
    return (time.process_time() - cpu) / calls, (time.perf_counter() - wall) / calls


def measure_variant(
    spec: VariantSpec, data: Path, batch: int, steps: int, threads: int
) -> VariantCost:
    """Measure one variant in this process (run it in a process of its own for the memory)."""
    timed = dataclasses.replace(spec, training={**spec.training, "batch_size": batch})
    experiment = open_experiment(timed, seed=0, data_path=data, device_name="cpu", threads=threads)
    model = experiment.build_model(timed)
    optimizer = make_optimizer(model, timed.training)
    loaded_mb = psutil.Process().memory_info().rss / 2**20

    def loss() -> torch.Tensor:
        return weighted_loss(experiment.loss_terms(model, timed), timed.loss_weights)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        loss().backward()
        optimizer.step()

    # The warm-up step: its loss and backward counted as training.py counts them.
    flops_at_batch = count_flops(lambda: loss().backward())
    optimizer.step()  # allocates AdamW's state before the timed steps
    cpu_s, wall_s = _per_call(step, steps)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    model.eval()
    predict = experiment.prediction(model)
    with torch.no_grad():
        flops_per_forecast = count_flops(predict)  # also the forecast's warm-up
        _, wall_s_per_forecast = _per_call(predict, 1)
    study_batch = spec.training["batch_size"]
    return VariantCost(
        model=spec.model,
        physics_bias=spec.physics_bias,
        parameters=count_parameters(model),
        study_batch=study_batch,
        study_steps=spec.training["steps"],
        flops_per_train_step=flops_at_batch * study_batch // batch,
        flops_per_forecast=flops_per_forecast,
        evaluations_per_forecast=int(getattr(model, "evaluations_per_forecast", 1)),
        timed_batch=batch,
        cpu_s_per_step=cpu_s,
        wall_s_per_step=wall_s,
        wall_s_per_forecast=wall_s_per_forecast,
        step_peak_memory_mb=peak_mb - loaded_mb,
    )


def measure_in_own_process(
    spec: VariantSpec, data: Path, batch: int, steps: int, threads: int
) -> VariantCost:
    """:func:`measure_variant` in a fresh process, so that its peak RSS is this variant's."""
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
        return pool.submit(measure_variant, spec, data, batch, steps, threads).result()


@dataclasses.dataclass(frozen=True)
class CostVerdict:
    claim: str
    cost_part: str
    holds: bool
    numbers: str


def _flops(flops: float) -> str:
    """FLOPs with the largest SI prefix that keeps the mantissa at least 1 (G to E)."""
    exponent, prefix = next(
        (e, p) for e, p in ((18, "E"), (15, "P"), (12, "T"), (9, "G")) if flops >= 10**e or e == 9
    )
    return f"{flops / 10**exponent:.4g} {prefix}"


def cost_claims(costs: Sequence[VariantCost]) -> list[CostVerdict]:
    """The cost parts of claims 4, 5 and 6 judged on FLOPs: training over each variant's budget
    of the config, inference per forecast. FLOPs are exact, so there is no interval: a claim
    holds or it does not."""
    by_model = {cost.model: cost for cost in costs}
    train = {m: c.train_flops_total for m, c in by_model.items()}
    forecast = {m: c.flops_per_forecast for m, c in by_model.items()}

    def listed(figures: dict[str, int], models: Sequence[str]) -> str:
        return ", ".join(f"{m} {_flops(figures[m])}" for m in models)

    verdicts = []
    fnos = [m for m in FNOS if m in by_model]
    others = [m for m in by_model if m not in FNOS]
    if fnos and others:
        best = min(fnos, key=train.get)
        lower = [m for m in others if train[m] < train[best]]
        verdicts.append(
            CostVerdict(
                "4",
                "the FNOs have the lowest training cost",
                not lower,
                f"training FLOPs: {listed(train, fnos + others)}"
                + (f"; lower than {best}: {', '.join(lower)}" if lower else ""),
            )
        )
    costly = [m for m in (*FNOS, FLOW_MATCHING) if m in by_model]
    unets = [m for m in UNETS if m in by_model]
    if costly and unets:
        cheaper = [f"{h} < {u}" for h in costly for u in unets if forecast[h] <= forecast[u]]
        verdicts.append(
            CostVerdict(
                "5",
                "FNO and flow matching cost more per forecast than the U-Nets",
                not cheaper,
                f"FLOPs per forecast: {listed(forecast, costly + unets)}"
                + (f"; not higher: {', '.join(cheaper)}" if cheaper else ""),
            )
        )
    if FLOW_MATCHING in by_model and len(by_model) > 1:
        highest = max(forecast, key=forecast.get)
        verdicts.append(
            CostVerdict(
                "5",
                "flow matching costs the most per forecast",
                highest == FLOW_MATCHING,
                f"highest FLOPs per forecast: {highest} {_flops(forecast[highest])}",
            )
        )
    pairs = [
        (weak, strong)
        for weak in by_model
        for strong in by_model
        if PRIOR_LEVELS.index(by_model[weak].physics_bias)
        < PRIOR_LEVELS.index(by_model[strong].physics_bias)
    ]
    if pairs:

        def breaks(figures: dict[str, int]) -> list[str]:
            return [f"{s} > {w}" for w, s in pairs if figures[s] > figures[w]]

        def biased(figures: dict[str, int]) -> str:
            return ", ".join(
                f"{m} ({by_model[m].physics_bias}) {_flops(figures[m])}" for m in by_model
            )

        training_breaks, inference_breaks = breaks(train), breaks(forecast)
        verdicts.append(
            CostVerdict(
                "6",
                "stronger physics priors have lower training cost",
                not training_breaks,
                f"training FLOPs: {biased(train)}"
                + (
                    f"; stronger prior higher: {', '.join(training_breaks)}"
                    if training_breaks
                    else ""
                ),
            )
        )
        verdicts.append(
            CostVerdict(
                "6",
                "... and this does not carry over to inference (some stronger prior costs more)",
                bool(inference_breaks),
                f"stronger prior higher per forecast: {', '.join(inference_breaks) or 'none'}",
            )
        )
    return verdicts


def cost_table(costs: Sequence[VariantCost]) -> str:
    """The measured and projected figures, a markdown table."""
    first = costs[0]
    header = (
        "| variant | prior | parameters | GFLOP / train step (batch "
        f"{first.study_batch}) | GFLOP / forecast (network evaluations) | CPU s / step, "
        f"measured (batch {first.timed_batch}) | wall s / step (batch {first.timed_batch}) | "
        f"step peak RSS MB (batch {first.timed_batch}) | wall s / forecast | projection: "
        f"training PFLOP ({first.study_steps} steps) | projection: CPU core-days here |"
    )
    rows = [header, "|" + "---|" * header.count(" | ") + "---|"]
    for c in costs:
        rows.append(
            f"| {c.model} | {c.physics_bias} | {c.parameters / 1e6:.2f} M | "
            f"{c.flops_per_train_step / 1e9:.4g} | {c.flops_per_forecast / 1e9:.4g} "
            f"({c.evaluations_per_forecast}) | {c.cpu_s_per_step:.3g} | {c.wall_s_per_step:.3g} | "
            f"{c.step_peak_memory_mb:.0f} | {c.wall_s_per_forecast:.3g} | "
            f"{c.train_flops_total / 1e15:.4g} | {c.projected_cpu_s / 86400:.3g} |"
        )
    return "\n".join(rows)


def ratio_line(costs: Sequence[VariantCost], reference: str = "unet") -> str:
    by_model = {cost.model: cost for cost in costs}
    if reference not in by_model:
        return f"ratio: no {reference} variant to compare with"
    base = by_model[reference]

    def ratios(figure: Callable[[VariantCost], float]) -> str:
        return ", ".join(f"{c.model} {figure(c) / figure(base):.3g}x" for c in costs)

    return (
        f"ratio to {reference}, training FLOPs over the budget: "
        f"{ratios(lambda c: c.train_flops_total)}; FLOPs per forecast: "
        f"{ratios(lambda c: c.flops_per_forecast)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=REPO / "config" / "paper.yaml")
    parser.add_argument("--batch", type=int, default=1, help="windows per timed step")
    parser.add_argument("--steps", type=int, default=2, help="timed steps after the warm-up")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument(
        "--grid", type=int, nargs=2, metavar=("NX", "NY"), help="default: the config's regrid"
    )
    args = parser.parse_args()

    specs, (nx, ny) = study_variants(args.config, args.grid)
    by_prior = sorted(specs.values(), key=lambda spec: PRIOR_LEVELS.index(spec.physics_bias))
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as directory:
        data = write_synthetic_stores(Path(directory), nx, ny)
        costs = []
        for spec in by_prior:
            costs.append(measure_in_own_process(spec, data, args.batch, args.steps, args.threads))
            print(f"measured {spec.model} ({time.perf_counter() - started:.0f} s)", flush=True)
    print(
        f"\nShear flow at {nx} x {ny} ({args.config.name}), CPU, {args.threads} threads; steps "
        f"timed at batch {args.batch} ({args.steps} after one warm-up), FLOPs scaled to the "
        "study's batch:\n"
    )
    print(cost_table(costs))
    print("\n" + ratio_line(costs))
    print(
        "\nThe cost parts of the claims on FLOPs (hardware-neutral). The accuracy at this scale "
        "is not measured: nothing here trains beyond a few steps.\n"
    )
    print("| claim | cost part | on FLOPs | numbers |\n|---|---|---|---|")
    for verdict in cost_claims(costs):
        word = "holds" if verdict.holds else "does not hold"
        print(f"| {verdict.claim} | {verdict.cost_part} | {word} | {verdict.numbers} |")
    print(
        f"\nFLOPs count matmuls, convolutions and FFTs (measurement.count_flops), not elementwise "
        f"or memory-bound work; a GPU's energy follows them only roughly. Total "
        f"{time.perf_counter() - started:.0f} s."
    )


if __name__ == "__main__":
    main()
