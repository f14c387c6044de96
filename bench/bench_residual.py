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

The network is the Burgers experiment's (depth hidden tanh layers of width units, 2 -> 1).
The machine may be shared: the load average is printed, and every time is the minimum over
several repeats (the least disturbed estimate). Example:

    python bench/bench_residual.py --points 10000 --threads 1
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import torch

from workflow_scripts.models.mlp import MLP
from workflow_scripts.physics.autodiff import derivative
from workflow_scripts.physics.burgers import DEFAULT_NU, pde_residual

GOAL = 6.0


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


if __name__ == "__main__":
    main()
