"""Benchmark of the Burgers PDE residual at collocation points (a script, not a test).

Prints, from one run, the throughput (points per second) of

  (a) a plain forward pass of the network (no graph, as in inference): the reference;
  (b) the residual u_t + u u_x - nu u_xx: forward with a graph, then u_x, u_t and u_xx by
      autograd with ``create_graph=True`` (as the training loss needs), via ``pde_residual``;
  (c) for comparison, the same residual with one autograd call per first derivative (u_x and
      u_t each by a separate call, as a naive implementation does);
  (d) a whole physics training step: (b) plus the backward pass of the mean squared residual;

and the ratio residual time / plain forward time ((b)'s time over (a)'s, i.e. (a)'s throughput
over (b)'s), the cost of one residual in forward passes; goal ≤ 6×.

Then (e) the training step against its FLOP floor: the step's matmul FLOPs (the project's
counter, ``measurement.count_flops``) over this machine's matmul rate in the same dtype and
threads (a 1024 x 1024 product, the best of the repeats), and where the step's time goes by
torch's profiler (matmuls, elementwise arithmetic such as tanh and its derivatives, the rest:
autograd bookkeeping and dispatch). The floor ignores the elementwise work, so the ratio step /
floor says how far a step is from pure matrix arithmetic.

The network is the Burgers experiment's (depth hidden tanh layers of width units, 2 -> 1).
The machine may be shared: the load average is printed, and every time is the minimum over
several repeats (the least disturbed estimate). Example:

    python bench/bench_residual.py --points 10000 --threads 1
    python bench/bench_residual.py --points 2000 --dtype float64 --threads 2   # config/paper.yaml
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import torch
from torch.profiler import ProfilerActivity, profile

from workflow_scripts.measurement import count_flops
from workflow_scripts.models.mlp import MLP
from workflow_scripts.physics.autodiff import derivative
from workflow_scripts.physics.burgers import DEFAULT_NU, pde_residual

GOAL = 6.0

# Steps under the profiler: enough for stable shares; parsing its events costs ~0.1 ms each
# (about a thousand a step), so more would take longer than the timing itself.
PROFILED_STEPS = 20

# Profiler rows counted as matrix arithmetic and as elementwise arithmetic (tanh and its
# derivatives, products, sums); the rest (copies, fills, views, autograd nodes) is bookkeeping.
MATMUL_OPS = frozenset({"aten::mm", "aten::addmm", "aten::bmm", "aten::matmul"})
ELEMENTWISE_OPS = frozenset(
    {
        "aten::mul",
        "aten::add",
        "aten::add_",
        "aten::sub",
        "aten::tanh",
        "aten::tanh_backward",
        "aten::pow",
        "aten::sum",
        "aten::mean",
        "aten::div",
        "aten::neg",
        "aten::rsub",
        "aten::mul_",
    }
)


def naive_residual(inputs: torch.Tensor, u: torch.Tensor, nu: float) -> torch.Tensor:
    """One autograd call per derivative: u_x, u_t and u_xx (three reverse passes)."""
    u_x = derivative(u, inputs, column=0)
    u_t = derivative(u, inputs, column=1)
    u_xx = derivative(u_x, inputs, column=0)
    return u_t + u * u_x - nu * u_xx


def best_times(calls: dict[str, Callable[[], object]], repeats: int, min_seconds: float):
    """Minimum wall time of one call of each, over ``repeats`` rounds of ``min_seconds`` each.

    The calls take turns within every round, so a burst of load elsewhere on a shared machine
    slows all of them alike instead of one.
    """
    best = dict.fromkeys(calls, float("inf"))
    for call in calls.values():
        call()  # warm-up: allocation, dispatch caches
    for _ in range(repeats):
        for name, call in calls.items():
            count, start = 0, time.perf_counter()
            while True:
                call()
                count += 1
                elapsed = time.perf_counter() - start
                if elapsed >= min_seconds:
                    break
            best[name] = min(best[name], elapsed / count)
    return best


def matmul_rate(dtype: torch.dtype, repeats: int, min_seconds: float) -> float:
    """FLOP/s of a 1024 x 1024 x 1024 product in ``dtype`` (the least disturbed of the repeats)."""
    a, b = (torch.rand(1024, 1024, dtype=dtype) for _ in range(2))
    seconds = best_times({"mm": lambda: a @ b}, repeats, min_seconds)["mm"]
    return 2 * 1024**3 / seconds


def time_shares(call: Callable[[], object], calls: int) -> dict[str, float]:
    """Share of ``call``'s self CPU time in matmuls, elementwise ops and everything else."""
    with profile(activities=[ProfilerActivity.CPU]) as profiler:
        for _ in range(calls):
            call()
    shares = {"matmul": 0.0, "elementwise": 0.0, "other": 0.0}
    for event in profiler.key_averages():
        if event.key in MATMUL_OPS:
            kind = "matmul"
        elif event.key in ELEMENTWISE_OPS:
            kind = "elementwise"
        else:
            kind = "other"
        shares[kind] += event.self_cpu_time_total
    total = sum(shares.values())
    return {kind: value / total for kind, value in shares.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--width", type=int, default=50)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--min-seconds", type=float, default=0.2)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    dtype = getattr(torch, args.dtype)
    network = MLP(2, 1, width=args.width, depth=args.depth, activation="tanh").to(dtype)
    points = torch.rand(args.points, 2, dtype=dtype) * torch.tensor([2.0, 1.0]) - torch.tensor(
        [1.0, 0.0]
    )
    points = points.to(dtype)

    def forward() -> torch.Tensor:
        with torch.no_grad():
            return network(points)

    def residual_with(function: Callable) -> Callable[[], torch.Tensor]:
        def call() -> torch.Tensor:
            inputs = points.detach().requires_grad_(True)
            return function(inputs, network(inputs), DEFAULT_NU)

        return call

    residual = residual_with(pde_residual)
    naive = residual_with(naive_residual)

    def training_step() -> None:
        network.zero_grad(set_to_none=True)
        residual().pow(2).mean().backward()

    torch.testing.assert_close(residual(), naive())  # same numbers, different cost

    times = best_times(
        {"forward": forward, "residual": residual, "naive": naive, "step": training_step},
        args.repeats,
        args.min_seconds,
    )
    rate = {name: args.points / seconds for name, seconds in times.items()}
    ratio = times["residual"] / times["forward"]

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"network {args.depth} x {args.width} tanh, {args.points} points, {args.dtype}, "
        f"{args.threads} thread(s), torch {torch.__version__}, load average {load:.2f}"
    )
    print(f"(a) forward (no graph):                  {rate['forward']:>12,.0f} points/s")
    print(f"(b) residual u_t + u u_x - nu u_xx:      {rate['residual']:>12,.0f} points/s")
    print(
        f"(c) residual, one autograd call per d/dx: {rate['naive']:>11,.0f} points/s "
        f"({times['naive'] / times['forward']:.2f}x forward)"
    )
    print(
        f"(d) residual + backward (training step):  {rate['step']:>11,.0f} points/s "
        f"({times['step'] / times['forward']:.2f}x forward)"
    )
    verdict = "meets" if ratio <= GOAL else "misses"
    print(f"ratio residual time / plain forward time: {ratio:.2f} ({verdict} the goal <= {GOAL:g})")

    flops = count_flops(training_step)
    rate = matmul_rate(dtype, args.repeats, args.min_seconds)
    floor = flops / rate
    shares = time_shares(training_step, calls=PROFILED_STEPS)
    print(
        f"(e) training step {times['step'] * 1e3:.2f} ms; {flops / 1e6:.1f} MFLOP of matmuls at "
        f"{rate / 1e9:.1f} GFLOP/s ({args.dtype} 1024^3 product, {args.threads} thread(s)): "
        f"floor {floor * 1e3:.2f} ms"
    )
    print(
        f"    profiler: matmuls {shares['matmul']:.0%}, elementwise {shares['elementwise']:.0%}, "
        f"other (copies, autograd, dispatch) {shares['other']:.0%} of the step's self CPU time"
    )
    print(f"ratio training step time / FLOP floor: {times['step'] / floor:.2f}")


if __name__ == "__main__":
    main()
