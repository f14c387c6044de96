"""One GPU per local job: the device count without torch, and a free device per job by lock
files, with fake device counts (no GPU needed)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from workflow_helpers import REPO

from workflow_scripts import gpu_slots

# A second process that takes a slot among N, prints it, and holds it until its stdin closes.
HOLDER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from workflow_scripts.gpu_slots import acquire_gpu_slot
    print(acquire_gpu_slot(int(sys.argv[1]), Path(sys.argv[2]), timeout_s=5), flush=True)
    sys.stdin.read()
    """
)


def _holder(n_devices: int, lock_dir: Path) -> tuple[subprocess.Popen, int]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(n_devices), str(lock_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    return holder, int(holder.stdout.readline())


def _end(holder: subprocess.Popen) -> None:
    holder.stdin.close()
    holder.wait(timeout=30)


@pytest.fixture(autouse=True)
def _no_held_slots():
    yield
    for device in list(gpu_slots._held):
        gpu_slots.release_gpu_slot(device)


def test_two_concurrent_holders_get_different_devices(tmp_path):
    holder, theirs = _holder(2, tmp_path)
    try:
        mine = gpu_slots.acquire_gpu_slot(2, tmp_path, timeout_s=5)
        assert {mine, theirs} == {0, 1}
    finally:
        _end(holder)


def test_a_slot_is_free_again_once_its_holder_ends_however_it_ends(tmp_path):
    holder, first = _holder(2, tmp_path)
    _end(holder)  # exits: the kernel drops its lock
    holder, again = _holder(2, tmp_path)
    assert again == first
    holder.kill()  # killed: the lock goes all the same
    holder.wait(timeout=30)
    holder, again = _holder(2, tmp_path)
    _end(holder)
    assert again == first


def test_a_released_slot_is_reused_within_the_process(tmp_path):
    first = gpu_slots.acquire_gpu_slot(3, tmp_path, timeout_s=1)
    second = gpu_slots.acquire_gpu_slot(3, tmp_path, timeout_s=1)
    assert first != second
    gpu_slots.release_gpu_slot(first)
    assert gpu_slots.acquire_gpu_slot(3, tmp_path, timeout_s=1) == first


def test_every_slot_taken_is_a_timeout_naming_the_resource(tmp_path):
    holder, _ = _holder(1, tmp_path)
    try:
        with pytest.raises(
            TimeoutError, match=r"all 1 GPU slots .*stayed taken.*--resources gpu=N"
        ):
            gpu_slots.acquire_gpu_slot(1, tmp_path, timeout_s=0.5, poll_s=0.1)
    finally:
        _end(holder)


def test_pinning_sets_cuda_visible_devices_only_where_there_is_a_choice(tmp_path):
    environ: dict[str, str] = {}
    assert gpu_slots.pin_to_free_gpu(environ, n_devices=1, lock_dir=tmp_path) is None
    assert gpu_slots.pin_to_free_gpu(environ, n_devices=0, lock_dir=tmp_path) is None
    assert environ == {}
    device = gpu_slots.pin_to_free_gpu(environ, n_devices=4, lock_dir=tmp_path)
    assert environ == {"CUDA_VISIBLE_DEVICES": str(device)}
    # set already (Slurm's --gpus, or the user): left alone, no slot taken
    environ = {"CUDA_VISIBLE_DEVICES": "3"}
    assert gpu_slots.pin_to_free_gpu(environ, n_devices=4, lock_dir=tmp_path) is None
    assert environ == {"CUDA_VISIBLE_DEVICES": "3"}


def test_resolve_device_pins_the_job_before_torch_looks_for_cuda(tmp_path):
    """In a fresh process (the suite's own CUDA must not be pinned): two fake GPUs, two jobs."""
    probe = textwrap.dedent(
        """
        import os
        from workflow_scripts import gpu_slots
        gpu_slots.count_gpus = lambda: 2
        from workflow_scripts.runtime import resolve_device
        resolve_device("auto")
        print(os.environ["CUDA_VISIBLE_DEVICES"], flush=True)
        input()
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    jobs = [
        subprocess.Popen(
            [sys.executable, "-c", probe],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
            env={**env, "PYTHONPATH": str(REPO)},
        )
        for _ in range(2)
    ]
    try:
        devices = {job.stdout.readline().strip() for job in jobs}
    finally:
        for job in jobs:
            job.stdin.close()
            job.wait(timeout=60)
    assert devices == {"0", "1"}
    assert sorted(p.name for p in (tmp_path / gpu_slots.LOCK_DIR).iterdir()) == [
        "gpu0.lock",
        "gpu1.lock",
    ]


def test_gpus_are_counted_from_the_driver_or_nvidia_smi_without_torch(tmp_path, monkeypatch):
    proc = tmp_path / "gpus"
    for bus in ("0000:17:00.0", "0000:65:00.0", "0000:ca:00.0"):
        (proc / bus).mkdir(parents=True)
    monkeypatch.setattr(gpu_slots, "NVIDIA_PROC", proc)
    assert gpu_slots.count_gpus() == 3
    # no driver entries: nvidia-smi -L, one "GPU i: ..." line per device
    monkeypatch.setattr(gpu_slots, "NVIDIA_PROC", tmp_path / "none")
    smi = tmp_path / "bin" / "nvidia-smi"
    smi.parent.mkdir()
    smi.write_text(
        "#!/bin/sh\necho 'GPU 0: NVIDIA A40 (UUID: a)'\necho 'GPU 1: NVIDIA A40 (UUID: b)'\n"
    )
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", f"{smi.parent}{os.pathsep}{os.environ['PATH']}")
    assert gpu_slots.count_gpus() == 2
    smi.write_text("#!/bin/sh\necho 'NVIDIA-SMI has failed' >&2\nexit 9\n")
    assert gpu_slots.count_gpus() == 0
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert gpu_slots.count_gpus() == 0


def test_the_module_imports_no_torch():
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, workflow_scripts.gpu_slots; print('torch' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    assert run.stdout.strip() == "False"
