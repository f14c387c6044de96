"""Jobs forked from a warm process: imports, codecarbon's hardware probe and matplotlib's font
loading once per machine.

Every Snakemake ``script:`` job is a fresh Python process. Before it does any work it imports
torch, xarray and the project (about 4 s of CPU on a 2-core VM) and probes the hardware for
codecarbon (about 1.4 s), and its first figure loads fonts (about 0.1 s); the default
pipeline runs about 250 such jobs. With the warm worker, a job's script only connects to a
server that has done all of that once, and the server forks a child that runs the job's
function: the same code, on the same inputs, with the job's working directory, environment
and log, and a fresh seed (every job seeds all its generators itself), so results are
identical to a direct run.

- The server is keyed by a fingerprint of the interpreter, its installed packages and this
  checkout's source: edit the code or install a package and the next job starts a new server;
  the old one exits when idle (``WARM_WORKER_IDLE_S``, default 60 s).
- A job's energy meter runs in the child and counts the child's own CPU time (the
  process-attributed figure) and codecarbon's machine-wide estimate, as in a direct run; the
  server's imports are outside every tracked window, as a direct job's imports are.
- When the job's client is killed (Snakemake cancels the job), the child exits at once.
- Off where forking is unsafe or pointless: on a CUDA device (a forked CUDA context is
  invalid), inside a SLURM allocation (one job per allocation), or by config
  (``warm_worker: false``). Then the job runs in the script's own process.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import hashlib
import importlib
import logging
import os
import pickle
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workflow_scripts.energy import warm_up_energy_tracking
from workflow_scripts.gpu_slots import pin_to_free_gpu
from workflow_scripts.logs import logging_to

log = logging.getLogger(__name__)

CHECKOUT = Path(__file__).resolve().parents[1]
# What every job of the pipeline imports: loaded once by the server.
PRELOAD = (
    "torch",
    "numpy",
    "pandas",
    "xarray",
    "h5netcdf",
    "matplotlib.pyplot",
    "workflow_scripts.training",
    "workflow_scripts.evaluation",
    "workflow_scripts.summary",
    "workflow_scripts.data.pointwise",
    "workflow_scripts.data.stages",
    "workflow_scripts.families.pointwise",
    "workflow_scripts.families.forecasting",
    "workflow_scripts.experiments",
    "workflow_scripts.figures",
    "workflow_scripts.figures.lifecycle",
    "workflow_scripts.analysis.pipeline",
    "workflow_scripts.analysis.claims",
    "workflow_scripts.report_pages",
)
# Environment read once at library load (thread pools, hashing): part of the fingerprint.
_LOAD_TIME_ENV = (
    "PYTHONPATH",
    "PYTHONHASHSEED",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
)
_START_TIMEOUT_S = 300.0


class JobFailed(RuntimeError):
    """The job's function raised in the warm worker's child, or the child died."""


def run_job(smk: Any, target: str) -> None:
    """Run ``target`` (``"module:function"``, called with the Snakemake object) for the job
    ``smk``: in a child of the warm worker where it is on, else in this process. Either way
    logging, warnings and stderr go to the job's log, import errors included."""
    reason = disabled_because(smk.config)
    if reason is None:
        try:
            _run_forked(smk, target)
            return
        except _ServerUnavailable as unavailable:
            reason = f"warm worker unavailable ({unavailable})"
    with logging_to(smk.log[0]):
        log.info("running in the job's own process: %s", reason)
        if smk.config.get("device", "auto") != "cpu":
            pin_to_free_gpu()  # before codecarbon's probe reads CUDA_VISIBLE_DEVICES
        warm_up_energy_tracking()  # overlaps codecarbon's hardware probe with the imports
        resolve(target)(smk)


def disabled_because(config: dict[str, Any]) -> str | None:
    """Why this job must run in its own process, or None where the warm worker may run it."""
    if not config.get("warm_worker", True):
        return "config key 'warm_worker' is false"
    if "SLURM_JOB_ID" in os.environ:
        return "inside a SLURM allocation"
    device = config.get("device", "auto")
    if device == "cuda" or (device == "auto" and cuda_driver_present()):
        return "CUDA may be used (a forked CUDA context is not usable)"
    if not hasattr(os, "fork"):
        return "this platform cannot fork"
    return None


def cuda_driver_present() -> bool:
    """Whether an NVIDIA driver is loaded, without importing torch or touching CUDA."""
    gpus = Path("/proc/driver/nvidia/gpus")
    return (gpus.is_dir() and any(gpus.iterdir())) or Path("/dev/nvidiactl").exists()


def resolve(target: str) -> Callable[[Any], None]:
    module, _, function = target.partition(":")
    return getattr(importlib.import_module(module), function)


def fingerprint() -> str:
    """Interpreter, packages (site-packages' listings change on install), load-time
    environment and this checkout's source: a server serves only jobs that match all four."""
    digest = hashlib.sha256()
    digest.update(f"{sys.executable}\0{sys.version}\0{CHECKOUT}\0".encode())
    for name in _LOAD_TIME_ENV:
        digest.update(f"{name}={os.environ.get(name)}\0".encode())
    for entry in sys.path:
        path = Path(entry)
        if path.name == "site-packages" and path.is_dir():
            digest.update(f"{entry}:{path.stat().st_mtime_ns}\0".encode())
    for source in sorted((CHECKOUT / "workflow_scripts").rglob("*.py")):
        digest.update(str(source.relative_to(CHECKOUT)).encode())
        digest.update(source.read_bytes())
    return digest.hexdigest()[:20]


def socket_path() -> Path:
    """Where the server for this fingerprint listens: ``WARM_WORKER_DIR``, else a folder of
    this user's in the temporary directory."""
    folder = os.environ.get("WARM_WORKER_DIR") or Path(
        tempfile.gettempdir(), f"workflow-warm-worker-{os.getuid()}"
    )
    return Path(folder) / f"{fingerprint()}.sock"


# ---- the client (a job's script) ------------------------------------------------------------


class _ServerUnavailable(Exception):
    pass


def _run_forked(smk: Any, target: str) -> None:
    path = socket_path()
    connection = _connect_or_start(path)
    request = {
        "target": target,
        "smk": smk,
        "cwd": os.getcwd(),
        "env": dict(os.environ),
        "log": str(Path(smk.log[0]).resolve()),
        "learned": str(path.with_suffix(".imports")),
    }
    with connection:
        try:
            _send(connection, pickle.dumps(request))
        except OSError as error:  # the server went away before forking: nothing ran
            raise _ServerUnavailable(f"lost {path}: {error}") from error
        reply = _receive(connection)
    if reply is None:
        raise JobFailed(
            f"the job's process ended without a result (killed by a signal or out of memory?); "
            f"see {smk.log[0]}"
        )
    status, message = pickle.loads(reply)
    if status != "ok":
        print(message, file=sys.stderr)
        raise SystemExit(1)


def _connect(path: Path) -> socket.socket | None:
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        client.connect(str(path))
    except OSError:
        client.close()
        return None
    return client


def _connect_or_start(path: Path) -> socket.socket:
    if len(str(path)) > 100:  # AF_UNIX paths are limited to 108 bytes
        raise _ServerUnavailable(f"socket path too long: {path}")
    connection = _connect(path)
    if connection is not None:
        return connection
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one starter; the others wait, then connect
        connection = _connect(path)
        if connection is not None:
            return connection
        path.unlink(missing_ok=True)  # a server that died left its socket
        server_log = path.with_suffix(".log")
        with open(server_log, "w") as stream:
            server = subprocess.Popen(
                [sys.executable, "-m", "workflow_scripts.warm_worker", str(path)],
                cwd=CHECKOUT,
                env={**os.environ, "PYTHONPATH": _with_checkout(), "MPLBACKEND": "Agg"},
                stdin=subprocess.DEVNULL,
                stdout=stream,
                stderr=stream,
                start_new_session=True,  # Ctrl-C to Snakemake does not reach it
            )
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            connection = _connect(path)
            if connection is not None:
                return connection
            if server.poll() is not None:
                raise _ServerUnavailable(f"server exited with {server.returncode}; {server_log}")
            time.sleep(0.05)
        server.kill()
        raise _ServerUnavailable(f"server did not start in {_START_TIMEOUT_S:.0f} s")


def _with_checkout() -> str:
    return os.pathsep.join(filter(None, (str(CHECKOUT), os.environ.get("PYTHONPATH"))))


def _send(connection: socket.socket, payload: bytes) -> None:
    connection.sendall(struct.pack("!Q", len(payload)) + payload)


def _receive(connection: socket.socket) -> bytes | None:
    """One length-prefixed message, or None where the peer closed first."""
    header = _receive_exactly(connection, 8)
    if header is None:
        return None
    return _receive_exactly(connection, struct.unpack("!Q", header)[0])


def _receive_exactly(connection: socket.socket, size: int) -> bytes | None:
    chunks = []
    while size:
        chunk = connection.recv(min(size, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


# ---- the server -------------------------------------------------------------------------


def serve(path: Path, idle_s: float) -> None:
    """Preload, probe, listen on ``path``; fork a child per connection; exit when idle."""
    started = time.perf_counter()
    for name in PRELOAD:
        with contextlib.suppress(ImportError):  # a rule's conda env holds what its jobs use
            importlib.import_module(name)
    learned = path.with_suffix(".imports")
    learned_size = _import_learned(learned, 0)
    warm_up_energy_tracking(wait=True)
    if "matplotlib.pyplot" in sys.modules:  # an env that draws (under --use-conda, not all)
        importlib.import_module("workflow_scripts.figures.style").warm_up_drawing()
    gc.freeze()  # children's collections skip the preloaded heap (and do not copy its pages)
    print(f"warm worker {os.getpid()} ready in {time.perf_counter() - started:.1f} s", flush=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    own_inode = path.stat().st_ino
    listener.listen(16)
    listener.settimeout(1.0)
    children: set[int] = set()
    last_busy = time.monotonic()
    while children or time.monotonic() - last_busy < idle_s:
        try:
            children.add(_fork_for(listener, listener.accept()[0]))
        except TimeoutError:  # a quiet second: learn what the last jobs imported
            learned_size = _import_learned(learned, learned_size)
        children -= _reaped(children)
        if children:
            last_busy = time.monotonic()
    # Idle: new clients start a new server from now on; those already queued are served.
    with contextlib.suppress(FileNotFoundError):
        if path.stat().st_ino == own_inode:
            path.unlink()
    listener.settimeout(0.0)
    with contextlib.suppress(BlockingIOError):
        while True:
            _fork_for(listener, listener.accept()[0])
    listener.close()


def _fork_for(listener: socket.socket, connection: socket.socket) -> int:
    pid = os.fork()
    if pid == 0:
        listener.close()
        _serve_one(connection)  # never returns
    connection.close()
    return pid


def _import_learned(learned: Path, known_size: int) -> int:
    """Import what children imported lazily (torch's FLOP counter pulls in sympy, xarray's
    writer dask.distributed, ...), so the next children start with it. Imports only: the
    server never runs a tensor operation, so no thread pool exists when it forks. Reads the
    file only when it grew past ``known_size``; returns its size."""
    try:
        size = learned.stat().st_size
    except FileNotFoundError:
        return 0
    if size == known_size:
        return size
    for name in learned.read_text().split():
        if name not in sys.modules:
            with contextlib.suppress(Exception):
                importlib.import_module(name)
    gc.freeze()
    return size


def _reaped(children: set[int]) -> set[int]:
    done = set()
    for pid in children:
        with contextlib.suppress(ChildProcessError):
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                done.add(pid)
    return done


def _serve_one(connection: socket.socket) -> None:
    """In the forked child: run one job and report; exits the process, never returns."""
    status = 1
    try:
        connection.settimeout(None)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        request = pickle.loads(_receive(connection) or b"")
        _exit_when_client_goes(connection)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        _log_to(request["log"])
        loaded = set(sys.modules)
        with logging_to(request["log"], mode="a"):
            resolve(request["target"])(request["smk"])
        reply, status = ("ok", ""), 0
        _report_imports(set(sys.modules) - loaded, request["learned"])
    except BaseException:  # noqa: BLE001 (reported to the client, which fails the job)
        reply = ("error", traceback.format_exc())
    with contextlib.suppress(OSError):
        _send(connection, pickle.dumps(reply))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def _report_imports(names: set[str], learned: str) -> None:
    if not names:
        return
    with open(learned, "a") as stream:
        fcntl.flock(stream, fcntl.LOCK_EX)
        stream.write("\n".join(sorted(names)) + "\n")


def _exit_when_client_goes(connection: socket.socket) -> None:
    """The client sends nothing after its request: end of stream means it was killed."""

    def watch() -> None:
        with contextlib.suppress(OSError):
            connection.recv(1)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _log_to(log_path: str) -> None:
    """The child's stdout and stderr (C libraries' too) append to the job's log."""
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
    os.dup2(descriptor, 1)
    os.dup2(descriptor, 2)
    os.close(descriptor)


if __name__ == "__main__":
    serve(Path(sys.argv[1]), float(os.environ.get("WARM_WORKER_IDLE_S", "60")))
