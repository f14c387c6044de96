"""The warm worker's server: preloads, then forks a child per authenticated job.

Started by a job's client (``python -m workflow_scripts.warm_worker.server SOCKET``) in the
client's own environment, it exits when idle. Before each fork it checks that it has a single
thread: a fork copies only the forking thread, so a lock another thread held (an allocator's,
a thread pool's) would stay locked in the child forever. It never runs a tensor operation
itself, and libraries that start a pool when they load (OpenBLAS, unless limited to one
thread) stop it in their fork handlers: one throwaway fork after the imports leaves the server
single-threaded (:func:`_shed_library_threads`), and each child starts the pool its job's
settings ask for, as a direct run does. Where a thread remains, the server refuses to fork and
stops serving, and its clients run their jobs in their own processes.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import importlib
import os
import pickle
import signal
import socket
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from workflow_scripts.energy import warm_up_energy_tracking
from workflow_scripts.logs import logging_to
from workflow_scripts.warm_worker import log_peak_memory, resolve
from workflow_scripts.warm_worker.environment import differences, launch_state
from workflow_scripts.warm_worker.trust import (
    PeerRefused,
    authenticate,
    open_file,
    peer_uid,
    receive,
    secret_key,
    send,
    verify_private,
)

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
# The only code a request may name: this checkout's package.
TARGET_PACKAGE = "workflow_scripts"


def serve(path: Path, idle_s: float) -> None:
    """Preload, probe, listen on ``path``; fork a child per connection; exit when idle."""
    verify_private(path.parent)
    key = secret_key(path.parent)
    launched = launch_state()
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
    _shed_library_threads()
    print(f"warm worker {os.getpid()} ready in {time.perf_counter() - started:.1f} s", flush=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    own_inode = os.lstat(path).st_ino
    listener.listen(16)
    listener.settimeout(1.0)
    children: set[int] = set()
    last_busy = time.monotonic()
    serving = True
    while serving and (children or time.monotonic() - last_busy < idle_s):
        try:
            channel = listener.accept()[0]
        except TimeoutError:  # a quiet second: learn what the last jobs imported
            learned_size = _import_learned(learned, learned_size)
        else:
            serving = _admit(listener, channel, key, launched, children)
        children -= _reaped(children)
        if children:
            last_busy = time.monotonic()
    # Idle: new clients start a new server from now on; those already queued are served.
    with contextlib.suppress(FileNotFoundError):
        if os.lstat(path).st_ino == own_inode:
            path.unlink()
    listener.settimeout(0.0)
    with contextlib.suppress(BlockingIOError):
        while serving:
            serving = _admit(listener, listener.accept()[0], key, launched, children)
    listener.close()
    while children:  # a refusing server waits for the jobs it runs
        children -= _reaped(children)
        time.sleep(0.1)


def _admit(
    listener: socket.socket,
    channel: socket.socket,
    key: bytes,
    launched: dict[str, Any],
    children: set[int],
) -> bool:
    """Fork a child for a connection of this user's; False where this server must stop."""
    uid = peer_uid(channel)
    if uid != os.getuid():
        print(f"refused a connection from uid {uid}", flush=True)
        channel.close()
        return True
    threads = _threads()
    if len(threads) > 1:
        print(
            f"refusing to fork with {len(threads)} threads ({', '.join(threads)}): a child "
            "would inherit the locks the others hold; no longer serving",
            flush=True,
        )
        channel.close()
        return False
    pid = os.fork()
    if pid == 0:
        listener.close()
        _serve_one(channel, key, launched)  # never returns
    channel.close()
    children.add(pid)
    return True


def _threads() -> list[str]:
    """This process's threads by name: the kernel's list (C libraries' threads too), else
    Python's where there is no /proc."""
    tasks = Path("/proc/self/task")
    if not tasks.is_dir():
        return [thread.name for thread in threading.enumerate()]
    names = []
    for task in tasks.iterdir():
        with contextlib.suppress(FileNotFoundError):  # a thread that just ended
            names.append((task / "comm").read_text().strip())
    return names


def _shed_library_threads() -> None:
    """One throwaway fork: pools that libraries started at load (OpenBLAS's) stop in their fork
    handlers and start again only at their next call, which the server never makes. Then wait
    briefly for threads that are ending (codecarbon's probe)."""
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    deadline = time.monotonic() + 2.0
    while len(_threads()) > 1 and time.monotonic() < deadline:
        time.sleep(0.01)


def _import_learned(learned: Path, known_size: int) -> int:
    """Import what children imported lazily (torch's FLOP counter pulls in sympy, xarray's
    writer dask.distributed, ...), so the next children start with it. Reads the file only when
    it grew past ``known_size``; returns its size."""
    try:
        descriptor = open_file(learned, os.O_RDONLY)
    except FileNotFoundError:
        return 0
    with os.fdopen(descriptor) as stream:
        size = os.fstat(stream.fileno()).st_size
        if size == known_size:
            return size
        names = stream.read().split()
    for name in names:
        if name not in sys.modules:
            with contextlib.suppress(Exception):
                importlib.import_module(name)
    gc.freeze()
    _shed_library_threads()  # a learned import may load a library that starts a pool
    return size


def _reaped(children: set[int]) -> set[int]:
    done = set()
    for pid in children:
        with contextlib.suppress(ChildProcessError):
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                done.add(pid)
    return done


def _serve_one(channel: socket.socket, key: bytes, launched: dict[str, Any]) -> None:
    """In the forked child: authenticate, run one job, report; exits, never returns."""
    status = 1
    try:
        channel.settimeout(None)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        try:
            authenticate(channel, key, role="server")
        except PeerRefused as refused:
            print(f"refused a connection: {refused}", flush=True)
            os._exit(1)
        request = pickle.loads(receive(channel) or b"")
        reply, status = _run_request(request, launched, channel), 0
    except BaseException:  # noqa: BLE001 (reported to the client, which fails the job)
        reply = ("error", traceback.format_exc())
    with contextlib.suppress(OSError):
        send(channel, pickle.dumps(reply))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def _run_request(
    request: dict[str, Any], launched: dict[str, Any], channel: socket.socket
) -> tuple[str, str]:
    """Run the job and say so, or refuse it where this server may not run it."""
    differing = differences(request["launch_state"], launched)
    if differing:
        return "refused", f"the job's settings differ from the server's: {', '.join(differing)}"
    module = request["target"].partition(":")[0]
    if module != TARGET_PACKAGE and not module.startswith(f"{TARGET_PACKAGE}."):
        return "refused", f"{request['target']} is not under {TARGET_PACKAGE}"
    _exit_when_client_goes(channel)
    os.chdir(request["cwd"])
    os.umask(request["umask"])
    os.environ.clear()
    os.environ.update(request["launch_state"]["environment"])
    os.environ.update(request["per_job_environment"])
    _log_to(request["log"])
    loaded = set(sys.modules)
    with logging_to(request["log"], mode="a"):
        try:
            resolve(request["target"])(request["smk"])
        finally:
            log_peak_memory()
    _report_imports(set(sys.modules) - loaded, Path(request["learned"]))
    return "ok", ""


def _report_imports(names: set[str], learned: Path) -> None:
    if not names:
        return
    with os.fdopen(open_file(learned, os.O_WRONLY | os.O_CREAT | os.O_APPEND), "a") as stream:
        fcntl.flock(stream, fcntl.LOCK_EX)
        stream.write("\n".join(sorted(names)) + "\n")


def _exit_when_client_goes(channel: socket.socket) -> None:
    """The client sends nothing after its request: end of stream means it was killed."""

    def watch() -> None:
        with contextlib.suppress(OSError):
            channel.recv(1)
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
