"""Jobs forked from a warm process: imports, codecarbon's hardware probe and matplotlib's font
loading once per machine.

Every Snakemake ``script:`` job is a fresh Python process. Before it does any work it imports
torch, xarray and the project (about 4 s of CPU on a 2-core VM) and probes the hardware for
codecarbon (about 1.4 s), and its first figure loads fonts (about 0.1 s); the default
pipeline runs about 250 such jobs. With the warm worker, a job's script only connects to a
server that has done all of that once (:mod:`.server`), and the server forks a child that runs
the job's function: the same code, on the same inputs, with the job's working directory,
environment, umask and log, and a fresh seed (every job seeds all its generators itself), so
results are identical to a direct run.

- Trust (:mod:`.trust`): the server's folder must be the user's alone, and both ends prove
  they are the user's (uid and a secret key) before any pickle is exchanged. Where the folder
  is not private, the job runs in its own process and its log names the folder.
- Soundness (:mod:`.environment`, :mod:`.server`): a server serves only jobs whose environment
  and resource limits equal those it started with, and forks only while single-threaded.
- The server is keyed by a fingerprint of the interpreter, its installed packages, this
  checkout's source and that launch state: edit the code or install a package and the next job
  starts a new server; the old one exits when idle (``WARM_WORKER_IDLE_S``, default 60 s).
- A job's energy meter runs in the child and counts the child's own CPU time (the
  process-attributed figure) and codecarbon's machine-wide estimate, as in a direct run; the
  server's imports are outside every tracked window, as a direct job's imports are.
- Every job's log ends with its process's peak memory (``ru_maxrss``), forked or not.
- When the job's client is killed (Snakemake cancels the job), the child exits at once.
- Off where forking is unsafe or pointless: on a CUDA device (a forked CUDA context is
  invalid), inside a SLURM allocation (one job per allocation), where the kernel cannot name a
  socket's peer, or by config (``warm_worker: false``). Then the job runs in the script's own
  process.
"""

from __future__ import annotations

import fcntl
import importlib
import logging
import os
import pickle
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workflow_scripts.energy import warm_up_energy_tracking
from workflow_scripts.gpu_slots import count_gpus, pin_to_free_gpu
from workflow_scripts.logs import logging_to
from workflow_scripts.warm_worker.environment import (
    CHECKOUT,
    fingerprint,
    launch_state,
    per_job_environment,
)
from workflow_scripts.warm_worker.trust import (
    NotPrivate,
    PeerRefused,
    authenticate,
    open_file,
    private_folder,
    receive,
    secret_key,
    send,
)

log = logging.getLogger(__name__)

_START_TIMEOUT_S = 300.0


class JobFailed(RuntimeError):
    """The job's function raised in the warm worker's child, or the child died."""


def run_job(smk: Any, target: str) -> None:
    """Run ``target`` (``"module:function"``, called with the Snakemake object) for the job
    ``smk``: in a child of the warm worker where it is on, else in this process. Either way
    logging, warnings and stderr go to the job's log, import errors included."""
    device = job_device(smk)
    reason = disabled_because(smk.config, device)
    if reason is None:
        try:
            _run_forked(smk, target)
            return
        except _ServerUnavailable as unavailable:
            reason = f"warm worker unavailable ({unavailable})"
    with logging_to(smk.log[0]):
        log.info("running in the job's own process: %s", reason)
        if device != "cpu":
            pin_to_free_gpu()  # before codecarbon's probe reads CUDA_VISIBLE_DEVICES
        warm_up_energy_tracking()  # overlaps codecarbon's hardware probe with the imports
        try:
            resolve(target)(smk)
        finally:
            log_peak_memory()


def job_device(smk: Any) -> str:
    """The job's device: its experiment's (the rule's ``device`` param), else the config's."""
    return getattr(smk.params, "device", None) or smk.config.get("device", "auto")


def disabled_because(config: dict[str, Any], device: str | None = None) -> str | None:
    """Why this job must run in its own process, or None where the warm worker may run it.
    ``device``: the job's (:func:`job_device`); the config's where not given."""
    if not config.get("warm_worker", True):
        return "config key 'warm_worker' is false"
    if "SLURM_JOB_ID" in os.environ:
        return "inside a SLURM allocation"
    device = device or config.get("device", "auto")
    if device == "cuda" or (device == "auto" and count_gpus() > 0):
        return "CUDA may be used (a forked CUDA context is not usable)"
    if not hasattr(os, "fork"):
        return "this platform cannot fork"
    if not hasattr(socket, "SO_PEERCRED"):
        return "this platform cannot name a socket's peer (SO_PEERCRED)"
    return None


def resolve(target: str) -> Callable[[Any], None]:
    module, _, function = target.partition(":")
    return getattr(importlib.import_module(module), function)


def log_peak_memory() -> None:
    """Log this process's peak resident memory: the job's own, forked or not (a forked child's
    count starts from the server's pages it shares, as a direct job's includes its imports)."""
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    log.info("peak memory of this job's process: %.0f MB (ru_maxrss)", peak_mb)


# ---- the client (a job's script) ------------------------------------------------------------


class _ServerUnavailable(Exception):
    pass


def _run_forked(smk: Any, target: str) -> None:
    try:
        folder = private_folder()
        key = secret_key(folder)
        path = folder / f"{fingerprint()}.sock"
        channel = _connect_or_start(path, key)
    except (NotPrivate, OSError) as refused:  # OSError: a symlink where a file should be, ...
        raise _ServerUnavailable(refused) from refused
    umask = os.umask(0o022)  # Python reads the umask only by setting it: set it back
    os.umask(umask)
    request = {
        "target": target,
        "smk": smk,
        "cwd": os.getcwd(),
        "launch_state": launch_state(),
        "per_job_environment": per_job_environment(),
        "umask": umask,
        "log": str(Path(smk.log[0]).resolve()),
        "learned": str(path.with_suffix(".imports")),
    }
    with channel:
        try:
            send(channel, pickle.dumps(request))
        except OSError as error:  # the server went away before forking: nothing ran
            raise _ServerUnavailable(f"lost {path}: {error}") from error
        reply = receive(channel)
    if reply is None:
        raise JobFailed(
            f"the job's process ended without a result (killed by a signal or out of memory?); "
            f"see {smk.log[0]}"
        )
    status, message = pickle.loads(reply)  # from a server that proved it holds the key
    if status == "refused":
        raise _ServerUnavailable(message)
    if status != "ok":
        print(message, file=sys.stderr)
        raise SystemExit(1)


def _connect(path: Path, key: bytes) -> socket.socket | None:
    """A connection to the server at ``path``, authenticated; None where none listens."""
    channel = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        channel.connect(str(path))
    except OSError:
        channel.close()
        return None
    try:
        authenticate(channel, key, role="client")
    except (PeerRefused, OSError) as refused:
        channel.close()
        log_file = path.with_suffix(".log")
        message = f"refused the server at {path}: {refused}; see {log_file}"
        raise _ServerUnavailable(message) from refused
    return channel


def _connect_or_start(path: Path, key: bytes) -> socket.socket:
    if len(str(path)) > 100:  # AF_UNIX paths are limited to 108 bytes
        raise _ServerUnavailable(f"socket path too long: {path}")
    channel = _connect(path, key)
    if channel is not None:
        return channel
    with os.fdopen(open_file(path.with_suffix(".lock"), os.O_WRONLY | os.O_CREAT), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one starter; the others wait, then connect
        channel = _connect(path, key)
        if channel is not None:
            return channel
        path.unlink(missing_ok=True)  # a server that died left its socket
        server_log = path.with_suffix(".log")
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        with os.fdopen(open_file(server_log, flags), "w") as stream:
            server = subprocess.Popen(
                [sys.executable, "-m", "workflow_scripts.warm_worker.server", str(path)],
                cwd=CHECKOUT,  # `-m` puts it first on sys.path
                # the job's environment as Python sees it, which is what the server compares:
                # C libraries may have changed the process's own (readline sets COLUMNS)
                env=dict(os.environ),
                stdin=subprocess.DEVNULL,
                stdout=stream,
                stderr=stream,
                start_new_session=True,  # Ctrl-C to Snakemake does not reach it
            )
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            channel = _connect(path, key)
            if channel is not None:
                return channel
            if server.poll() is not None:
                raise _ServerUnavailable(f"server exited with {server.returncode}; {server_log}")
            time.sleep(0.05)
        server.kill()
        raise _ServerUnavailable(f"server did not start in {_START_TIMEOUT_S:.0f} s")
