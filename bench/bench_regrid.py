"""Out-of-core benchmark of the regridding stage (a script, not a test).

Writes a Well-layout ``shear_flow`` HDF5 file of about ``--size-gb`` GB chunk by chunk (never
holding it in memory), then, each in a fresh subprocess:

1. reads the whole file sequentially with plain h5py, in the same (trajectory, time window)
   slabs the regridder uses: the reference read rate;
2. reads the same slabs with os.preadv at the datasets' byte offsets (the regridder's fast
   path for contiguous datasets): the rate the disk allows without HDF5's read path;
3. regrids it (block mean by default) to a Zarr training store with
   ``regrid_well_files``, statistics included, after a warm-up on a tiny file (imports and
   first-call set-up are not timed).

Each cold run starts with the input evicted from the page cache (posix_fadvise DONTNEED;
``--drop-all-caches`` also writes /proc/sys/vm/drop_caches, which evicts Python's own files
too), so no run profits from an earlier one having read the file. A warm series (file in the
page cache) is reported too. Peak RSS is each subprocess's ``ru_maxrss``. Each store is
deleted after its run (not timed), the big file at the end.

Goals, each printed with met / not met: the regrid's peak RSS below 1 GB (the default ~4 GB
input does not fit in it), and its throughput at least 0.5 of the plain h5py read's (read
time / regrid time >= 0.5), cold and warm.

    python bench/bench_regrid.py                 # ~4 GB input
    python bench/bench_regrid.py --size-gb 0.5   # quick run
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import h5py
import numpy as np

N_TIME, NX, NY = 200, 256, 512
N_FIELDS = 4  # tracer, pressure, velocity_x, velocity_y
MB = 1e6
# Reference reads first, so the regrid run never profits from them on a cold cache.
KINDS = ("read", "raw_read", "regrid")
GOAL_PEAK_RSS_MB = 1000.0  # regrid peak RSS < 1 GB
GOAL_THROUGHPUT_RATIO = 0.5  # regrid throughput / plain h5py read throughput >= 0.5


def write_big_well_file(path: Path, n_traj: int, n_time: int, time_chunk: int) -> None:
    """A file in The Well's shear_flow layout, filled one (trajectory, time window) at a time."""
    from workflow_scripts.data.well_format import validate_well_file

    rng = np.random.default_rng(0)
    x = np.arange(NX) / NX
    y = -1 + 2 * np.arange(NY) / NY
    with h5py.File(path, "w") as f:
        f.attrs.update(
            dataset_name="shear_flow", grid_type="cartesian", n_spatial_dims=2,
            n_trajectories=n_traj, simulation_parameters=["Rayleigh", "Schmidt"],
            Rayleigh=1e4, Schmidt=1.0,
        )  # fmt: skip
        dims = f.create_group("dimensions")
        dims.attrs["spatial_dims"] = ["x", "y"]
        for name, values in (("time", 0.1 * np.arange(n_time)), ("x", x), ("y", y)):
            dims.create_dataset(name, data=values.astype(np.float32))
        bcs = f.create_group("boundary_conditions")
        for dim, n in (("x", NX), ("y", NY)):
            group = bcs.create_group(f"{dim}_periodic")
            group.attrs.update(associated_dims=[dim], bc_type="PERIODIC")
            group.create_dataset("mask", data=np.zeros(n, dtype=bool))
        scalars = f.create_group("scalars")
        scalars.attrs["field_names"] = ["Rayleigh", "Schmidt"]
        scalars.create_dataset("Rayleigh", data=1e4)
        scalars.create_dataset("Schmidt", data=1.0)
        t0 = f.create_group("t0_fields")
        t0.attrs["field_names"] = ["tracer", "pressure"]
        t1 = f.create_group("t1_fields")
        t1.attrs["field_names"] = ["velocity"]
        f.create_group("t2_fields").attrs["field_names"] = np.array([], dtype=h5py.string_dtype())
        shape = (n_traj, n_time, NX, NY)
        scalar_fields = [
            t0.create_dataset(n, shape=shape, dtype=np.float32) for n in t0.attrs["field_names"]
        ]
        velocity = t1.create_dataset("velocity", shape=(*shape, 2), dtype=np.float32)
        for b in range(n_traj):
            for start in range(0, n_time, time_chunk):
                stop = min(start + time_chunk, n_time)
                for dset in scalar_fields:
                    dset[b, start:stop] = rng.random((stop - start, NX, NY), dtype=np.float32)
                velocity[b, start:stop] = rng.random((stop - start, NX, NY, 2), dtype=np.float32)
    validate_well_file(path)


def evict_from_page_cache(path: Path, drop_all: bool) -> str:
    """Drop ``path`` from the OS page cache so the next read comes from disk; say how.

    Only the input file by default: drop_caches also evicts Python, numpy, HDF5 and every
    module not yet imported, whose reloading would then be charged to the run.
    """
    os.sync()
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    if not drop_all:
        return "input file evicted with posix_fadvise(DONTNEED)"
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return "posix_fadvise(DONTNEED) + drop_caches (whole page cache)"
    except OSError:
        return "posix_fadvise(DONTNEED) only (drop_caches not writable)"


def write_warmup_file(path: Path) -> None:
    """A tiny file in the same layout, regridded once before timing so that lazy imports and
    first-call set-up are not charged to the measured run."""
    from workflow_scripts.data.well_format import write_well_file

    fields = np.zeros((1, 4, NX, NY), np.float32)
    write_well_file(
        path, tracer=fields, pressure=fields, velocity_x=fields, velocity_y=fields,
        time=0.1 * np.arange(4), x=np.arange(NX) / NX, y=-1 + 2 * np.arange(NY) / NY,
        reynolds=1e4, schmidt=1.0,
    )  # fmt: skip


def field_bytes(path: Path) -> int:
    with h5py.File(path, "r") as f:
        return int(np.prod(f["t0_fields/tracer"].shape)) * 4 * N_FIELDS


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / MB  # KiB on Linux


def parallel_speedup(n_threads: int) -> float:
    """Speed-up of n threads over one on a GIL-free numpy loop: how many cores other
    processes leave us right now (the machine may be shared)."""
    data = np.random.default_rng(0).random((n_threads, 4_000_000))

    def work(row: int) -> None:
        for _ in range(25):
            data[row].sum()

    start = time.perf_counter()
    for row in range(n_threads):
        work(row)
    serial = time.perf_counter() - start
    threads = [threading.Thread(target=work, args=(row,)) for row in range(n_threads)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return serial / (time.perf_counter() - start)


def cpu_seconds() -> float:
    """User + system CPU time of this process, all threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# ------------------------------------------------------------------------------ children


def child_read(src: Path, time_chunk: int) -> dict[str, float]:
    """Plain sequential h5py read of every field, slab by slab."""
    start, cpu = time.perf_counter(), cpu_seconds()
    checksum = 0.0
    with h5py.File(src, "r") as f:
        datasets = [f["t0_fields/tracer"], f["t0_fields/pressure"], f["t1_fields/velocity"]]
        n_traj, n_time = datasets[0].shape[:2]
        for b in range(n_traj):
            for t in range(0, n_time, time_chunk):
                for dset in datasets:
                    checksum += float(dset[b, t : t + time_chunk].ravel()[0])
    return {
        "seconds": time.perf_counter() - start,
        "cpu_s": cpu_seconds() - cpu,
        "checksum": checksum,
    }


def child_raw_read(src: Path, time_chunk: int) -> dict[str, float]:
    """The same slabs read with os.preadv at their byte offsets: the regridder's fast path."""
    with h5py.File(src, "r") as f:
        datasets = [f["t0_fields/tracer"], f["t0_fields/pressure"], f["t1_fields/velocity"]]
        layout = [(d.id.get_offset(), d.shape, d.dtype.itemsize) for d in datasets]
    start, cpu = time.perf_counter(), cpu_seconds()
    fd = os.open(src, os.O_RDONLY)
    try:
        n_traj, n_time = layout[0][1][:2]
        for b in range(n_traj):
            for t in range(0, n_time, time_chunk):
                for offset, shape, itemsize in layout:
                    step = int(np.prod(shape[2:])) * itemsize
                    steps = min(time_chunk, n_time - t)
                    buffer = np.empty(steps * step // 4, dtype=np.float32)
                    os.preadv(fd, [buffer], offset + (b * n_time + t) * step)
    finally:
        os.close(fd)
    return {"seconds": time.perf_counter() - start, "cpu_s": cpu_seconds() - cpu}


def child_regrid(src: Path, store: Path, args: argparse.Namespace) -> dict[str, float]:
    from workflow_scripts.data.regrid import regrid_well_files

    options = {"nx": args.nx, "ny": args.ny, "method": args.method, "scheduler": args.scheduler}
    warmup = src.with_name("warmup.hdf5")
    regrid_well_files([warmup], store, **options, time_chunk=2, num_workers=args.workers)
    shutil.rmtree(store)
    rss_after_imports = peak_rss_mb()
    start, cpu = time.perf_counter(), cpu_seconds()
    regrid_well_files(
        [src], store, nx=args.nx, ny=args.ny, method=args.method, time_chunk=args.time_chunk,
        scheduler=args.scheduler, num_workers=args.workers, overwrite=True,
    )  # fmt: skip
    return {
        "seconds": time.perf_counter() - start,
        "cpu_s": cpu_seconds() - cpu,
        "rss_after_imports_mb": rss_after_imports,
    }


def run_child(kind: str, src: Path, store: Path, args: argparse.Namespace) -> dict[str, float]:
    command = [
        sys.executable, __file__, "--child", kind, "--src", str(src), "--store", str(store),
        "--nx", str(args.nx), "--ny", str(args.ny), "--method", args.method,
        "--time-chunk", str(args.time_chunk), "--scheduler", args.scheduler,
        "--workers", str(args.workers),
    ]  # fmt: skip
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------ main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-gb", type=float, default=4.0, help="input size (fields), GB")
    parser.add_argument("--workdir", type=Path, default=None, help="where the big file goes")
    parser.add_argument("--nx", type=int, default=64)
    parser.add_argument("--ny", type=int, default=128)
    parser.add_argument("--method", default="block_mean", choices=["block_mean", "spectral"])
    parser.add_argument("--time-chunk", type=int, default=10)
    parser.add_argument("--scheduler", default="threads")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--keep", action="store_true", help="keep the input file")
    parser.add_argument(
        "--drop-all-caches", action="store_true", help="also drop the whole page cache (root)"
    )
    parser.add_argument("--child", choices=KINDS, help=argparse.SUPPRESS)
    parser.add_argument("--src", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--store", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        if args.child == "read":
            result = child_read(args.src, args.time_chunk)
        elif args.child == "raw_read":
            result = child_raw_read(args.src, args.time_chunk)
        else:
            result = child_regrid(args.src, args.store, args)
        print(json.dumps({**result, "peak_rss_mb": peak_rss_mb()}))
        return

    bytes_per_step = NX * NY * 4 * N_FIELDS
    n_steps = max(args.time_chunk, round(args.size_gb * 1e9 / bytes_per_step))
    n_traj = max(1, math.ceil(n_steps / N_TIME))
    n_time = min(N_TIME, n_steps)
    workdir = Path(tempfile.mkdtemp(prefix="bench_regrid_", dir=args.workdir))
    src = workdir / "shear_flow_Reynolds_1e4_Schmidt_1e0.hdf5"
    try:
        start = time.perf_counter()
        write_big_well_file(src, n_traj, n_time, args.time_chunk)
        write_warmup_file(src.with_name("warmup.hdf5"))
        size = field_bytes(src)
        print(
            f"input  {src}: {n_traj} trajectories x {n_time} steps x {NX}x{NY}, "
            f"{size / 1e9:.2f} GB of fields, {src.stat().st_size / 1e9:.2f} GB on disk "
            f"(written in {time.perf_counter() - start:.0f} s)"
        )
        print(f"target {args.nx}x{args.ny} {args.method}, time_chunk {args.time_chunk}, "
              f"scheduler {args.scheduler} x {args.workers}")  # fmt: skip
        results = {}
        for cache in ("cold", "warm"):
            for kind in KINDS:
                if cache == "cold":
                    how = evict_from_page_cache(src, args.drop_all_caches)
                else:  # make sure the whole file is cached before a warm run
                    child_read(src, args.time_chunk)
                store = workdir / f"{cache}.zarr"
                results[cache, kind] = run_child(kind, src, store, args)
                if store.exists():
                    results[cache, kind]["store_mb"] = du(store) / MB
                shutil.rmtree(store, ignore_errors=True)  # not timed
        print(f"cache  cold runs: {how}; warm runs: file read once beforehand")
        print(
            f"cores  {args.workers}-thread speed-up of a numpy loop now: "
            f"{parallel_speedup(args.workers):.2f} (other processes share this machine)"
        )
        print(f"{'run':<16}{'seconds':>9}{'CPU s':>7}{'MB/s':>8}{'peak RSS MB':>13}")
        for (cache, kind), result in results.items():
            rate = size / MB / result["seconds"]
            print(f"{cache + ' ' + kind:<16}{result['seconds']:>9.1f}{result['cpu_s']:>7.1f}"
                  f"{rate:>8.0f}{result['peak_rss_mb']:>13.0f}")  # fmt: skip
        verdicts = []
        for cache in ("cold", "warm"):
            regrid_s = results[cache, "regrid"]["seconds"]
            h5py_ratio = results[cache, "read"]["seconds"] / regrid_s
            raw_ratio = results[cache, "raw_read"]["seconds"] / regrid_s
            print(
                f"{cache} throughput ratio regrid / plain h5py read: {h5py_ratio:.2f} "
                f"(regrid / raw preadv read: {raw_ratio:.2f}; "
                f"goal >= {GOAL_THROUGHPUT_RATIO:g} for the h5py ratio)"
            )
            goal = f"{cache} throughput ratio {h5py_ratio:.2f} >= {GOAL_THROUGHPUT_RATIO:g}"
            verdicts.append((goal, h5py_ratio >= GOAL_THROUGHPUT_RATIO))
        peak_rss = max(results[cache, "regrid"]["peak_rss_mb"] for cache in ("cold", "warm"))
        print(
            f"regrid peak RSS {results['cold', 'regrid']['peak_rss_mb']:.0f} MB "
            f"(of which {results['cold', 'regrid']['rss_after_imports_mb']:.0f} MB after imports "
            "and warm-up) "
            f"for a {size / 1e9:.2f} GB input; store {results['cold', 'regrid']['store_mb']:.0f} MB"
            f" (goal < {GOAL_PEAK_RSS_MB:.0f} MB)"
        )
        goal = f"regrid peak RSS {peak_rss:.0f} MB < {GOAL_PEAK_RSS_MB:.0f} MB"
        verdicts.insert(0, (goal, peak_rss < GOAL_PEAK_RSS_MB))
        for goal, met in verdicts:
            print(f"goal {goal}: {'met' if met else 'not met'}")
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


if __name__ == "__main__":
    main()
