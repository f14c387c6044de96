"""Benchmark of the shear_flow pseudo-spectral solver (a script, not a test).

Prints, from one run:
  (a) wall time of one solver step divided by the wall time of the FFTs that step performs
      (each RK4 stage: one irfft2 of 6 fields and one rfft2 of 2 fields on the compute grid),
      timed alone on tensors of the same shapes; goal ≤ 3×;
  (b) trajectories per minute at the given resolution for a full run of n snapshots
      (Δt = 0.1), or extrapolated linearly in snapshots from a shorter run when --snapshots is
      smaller than --total-snapshots (the script says so).

The machine may be shared: the load average is printed, and step/FFT times are the minimum over
several repeats (the least disturbed estimate). Example:

    python bench/bench_shear_solver.py --nx 64 --ny 128 --batch 4
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

from workflow_scripts.physics.shear_flow import SpectralShearFlowSolver, initial_condition, simulate

REYNOLDS_CYCLE = (1e4, 5e4, 1e5, 5e5)
SCHMIDT_CYCLE = (0.1, 1.0, 10.0, 2.0)
SHAPES_CYCLE = ((2, 2, 1.0), (4, 3, 0.5), (2, 5, 0.25), (4, 4, 2.0))


def make_batch(
    nx: int, ny: int, batch: int
) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
    conditions = [initial_condition(nx, ny, *SHAPES_CYCLE[i % 4]) for i in range(batch)]
    fields = {name: torch.stack([c[name] for c in conditions]) for name in conditions[0]}
    reynolds = torch.tensor([REYNOLDS_CYCLE[i % 4] for i in range(batch)])
    schmidt = torch.tensor([SCHMIDT_CYCLE[i % 4] for i in range(batch)])
    return fields, reynolds, schmidt


def timed_blocks(action, n_calls: int, repeats: int) -> list[float]:
    """Seconds per call, one value per block of n_calls calls."""
    per_call = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(n_calls):
            action()
        per_call.append((time.perf_counter() - start) / n_calls)
    return per_call


def step_to_fft_ratio(args: argparse.Namespace) -> None:
    fields, reynolds, schmidt = make_batch(args.nx, args.ny, args.batch)
    solver = SpectralShearFlowSolver(args.nx, args.ny, reynolds, schmidt, dealias=args.dealias)
    solver.set_state(fields)
    solver.advance(0.1)  # warm-up, and a representative CFL-limited dt
    dt = solver.last_dt

    def one_step() -> None:
        k1, _ = solver._advection(solver.spectrum, want_speed=True)  # as in advance()
        solver._rk4_step(dt, first_stage=k1)

    batch, mx, my = args.batch, solver.mx, solver.my
    spectral_in = torch.randn(batch, 6, mx, my // 2 + 1, dtype=solver.complex_dtype)
    physical_in = torch.randn(batch, 2, mx, my, dtype=solver.dtype)

    def step_ffts() -> None:
        for _ in range(4):  # four RK4 stages
            torch.fft.irfft2(spectral_in, s=(mx, my), norm="forward")
            torch.fft.rfft2(physical_in, norm="forward")

    one_step(), step_ffts()
    # Interleave the two measurements so a burst of load hits both alike.
    step_times, fft_times = [], []
    for _ in range(args.repeats):
        step_times += timed_blocks(one_step, args.steps, 1)
        fft_times += timed_blocks(step_ffts, args.steps, 1)
    step_min, fft_min = min(step_times), min(fft_times)
    step_med, fft_med = statistics.median(step_times), statistics.median(fft_times)
    print(
        f"(a) {args.nx}x{args.ny} grid, batch {batch}, dealias {args.dealias} "
        f"(compute grid {mx}x{my}), dt = {dt:.3e}"
    )
    print("    FFTs per step: 4 irfft2 of (B, 6, Mx, My/2+1) + 4 rfft2 of (B, 2, Mx, My)")
    print(f"    step time      : {step_min * 1e3:8.3f} ms (median {step_med * 1e3:.3f} ms)")
    print(f"    its FFTs alone : {fft_min * 1e3:8.3f} ms (median {fft_med * 1e3:.3f} ms)")
    print(
        f"    step / FFT     : {step_min / fft_min:8.2f} x  (medians: {step_med / fft_med:.2f} x;"
        " goal <= 3 x)"
    )


def trajectories_per_minute(args: argparse.Namespace) -> None:
    fields, reynolds, schmidt = make_batch(args.nx, args.ny, args.batch)
    start = time.perf_counter()
    out = simulate(
        fields, reynolds, schmidt, args.snapshots, 0.1, dealias=args.dealias, progress=False
    )
    wall_s = time.perf_counter() - start
    assert all(torch.isfinite(f).all() for f in out.values())
    scale = (args.total_snapshots - 1) / (args.snapshots - 1)
    full_s = wall_s * scale
    how = "measured" if scale == 1 else f"extrapolated x{scale:.1f} from {args.snapshots} snapshots"
    print(
        f"(b) {args.batch} trajectories (Re {reynolds.tolist()}), {args.nx}x{args.ny}, "
        f"{args.total_snapshots} snapshots, dt_snap = 0.1"
    )
    print(f"    wall time      : {full_s:8.1f} s for the batch ({how})")
    print(f"    per trajectory : {full_s / args.batch:8.1f} s")
    print(f"    throughput     : {60 * args.batch / full_s:8.2f} trajectories/min")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nx", type=int, default=64)
    parser.add_argument("--ny", type=int, default=128)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--dealias", choices=("3/2", "2/3"), default="3/2")
    parser.add_argument("--steps", type=int, default=20, help="steps per timing block")
    parser.add_argument("--repeats", type=int, default=7, help="timing blocks")
    parser.add_argument("--snapshots", type=int, default=200, help="snapshots actually run")
    parser.add_argument("--total-snapshots", type=int, default=200)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    args = parser.parse_args()
    if not 2 <= args.snapshots <= args.total_snapshots:
        parser.error("need 2 <= --snapshots <= --total-snapshots (snapshot 0 is the start)")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"load average before: {os.getloadavg()[0]:.2f}"
    )
    step_to_fft_ratio(args)
    trajectories_per_minute(args)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
