"""One GPU per local job on a machine with several: count them without torch (the one GPU probe:
the workflow, the warm worker and the report pages all ask :func:`count_gpus`), and pin a job
to a free one before torch initialises CUDA.

Snakemake's ``gpu`` resource (rules/gpus.smk: as many as :func:`count_gpus` finds) keeps at
most that many GPU jobs running; which device each gets is decided here, in the job, by an
exclusive lock file per device (``.snakemake/gpu_slots/gpu{i}.lock`` in the working
directory). The kernel drops a lock when its process ends, however it ends, so a slot is never
left taken by a dead job. A job whose ``CUDA_VISIBLE_DEVICES`` is already set (by Slurm's
``--gpus``, or by you) is left as it is.

Torch-free on purpose: it must run before torch touches CUDA, and Snakemake's workflow
(rules/gpus.smk) counts the GPUs without importing torch.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import time
from collections.abc import MutableMapping
from pathlib import Path

#: Where the lock files live, relative to the job's working directory (Snakemake's workdir).
LOCK_DIR = Path(".snakemake") / "gpu_slots"
NVIDIA_PROC = Path("/proc/driver/nvidia/gpus")

# Locks this process holds: open files, kept for the process's lifetime (a job = a process).
_held: dict[int, int] = {}


def count_gpus(driver_entries: Path | None = None) -> int:
    """NVIDIA GPUs on this machine: the driver's /proc entries (``driver_entries``, else
    :data:`NVIDIA_PROC`), else ``nvidia-smi -L``'s lines, else 0 (no driver, no GPU, or
    nvidia-smi failing)."""
    driver_entries = NVIDIA_PROC if driver_entries is None else driver_entries
    if driver_entries.is_dir():
        return sum(1 for entry in driver_entries.iterdir() if entry.is_dir())
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return 0
    try:
        listing = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return 0
    if listing.returncode != 0:
        return 0
    return sum(1 for line in listing.stdout.splitlines() if line.startswith("GPU "))


def acquire_gpu_slot(
    n_devices: int, lock_dir: Path = LOCK_DIR, *, timeout_s: float = 60.0, poll_s: float = 0.2
) -> int:
    """The index of a device no other process holds, locked for this process's lifetime.

    Scheduling with the ``gpu`` resource leaves a free device for every GPU job; the wait
    covers a job that has just ended and whose lock the kernel is still dropping. Raises
    ``TimeoutError`` when every device stays taken for ``timeout_s``.
    """
    if n_devices < 1:
        raise ValueError(f"no GPU slot to take among {n_devices} devices")
    lock_dir = Path(lock_dir)
    lock_dir.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout_s
    while True:
        for device in range(n_devices):
            if device in _held:
                continue
            fd = os.open(lock_dir / f"gpu{device}.lock", os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            _held[device] = fd
            return device
        if time.monotonic() >= deadline:
            raise TimeoutError(
                f"all {n_devices} GPU slots in {lock_dir} stayed taken for {timeout_s:.0f} s; "
                "does the gpu resource (--resources gpu=N) exceed the devices?"
            )
        time.sleep(poll_s)


def release_gpu_slot(device: int) -> None:
    """Give a slot back before the process ends (the kernel does it at exit anyway)."""
    fd = _held.pop(device, None)
    if fd is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def pin_to_free_gpu(
    environ: MutableMapping[str, str] | None = None,
    *,
    n_devices: int | None = None,
    lock_dir: Path = LOCK_DIR,
) -> int | None:
    """Set ``CUDA_VISIBLE_DEVICES`` to a free device where there are several and none is set.

    Returns the device taken, or None where nothing was changed: it was set already (Slurm,
    the user), or the machine has fewer than two GPUs (nothing to choose). Call it before torch
    initialises CUDA: CUDA reads the variable once, at initialisation.
    """
    environ = os.environ if environ is None else environ
    if environ.get("CUDA_VISIBLE_DEVICES") is not None:
        return None
    n_devices = count_gpus() if n_devices is None else n_devices
    if n_devices < 2:
        return None
    device = acquire_gpu_slot(n_devices, lock_dir)
    environ["CUDA_VISIBLE_DEVICES"] = str(device)
    return device
