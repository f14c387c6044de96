"""The warm worker: jobs run in children of one warm process, fail as they would alone, die
with their client, and give the same results as jobs run in their own process; nobody but the
user gets a pickle into or out of it, and it forks only where the fork is sound."""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from workflow_helpers import REPO, only, snakemake, stop_warm_workers

from workflow_scripts import warm_worker
from workflow_scripts.warm_worker import environment

PROBE = "workflow_scripts.warm_worker.probe:describe"
NOBODY = 65534
as_root = pytest.mark.skipif(os.getuid() != 0, reason="acting as another user needs root")


@pytest.fixture
def jobs(tmp_path, monkeypatch):
    """A private server folder of the test's own, and a module of job functions outside
    workflow_scripts (which the server must refuse)."""
    (tmp_path / "jobs_for_test.py").write_text(
        "import os\nfrom pathlib import Path\n\n"
        "def report(smk):\n    Path(smk.output[0]).write_text(str(os.getpid()))\n"
    )
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setenv("WARM_WORKER_DIR", str(tmp_path / "w"))
    monkeypatch.setenv("WARM_WORKER_IDLE_S", "2")
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    stop_warm_workers(tmp_path / "w")


def _job(tmp_path: Path, name: str, params: dict | None = None, **config) -> SimpleNamespace:
    return SimpleNamespace(
        config={"device": "cpu", **config},
        log=[str(tmp_path / "logs" / f"{name}.log")],
        output=[str(tmp_path / f"{name}.out")],
        params=params or {},
    )


def _probe(tmp_path: Path, name: str, params: dict | None = None, **config) -> dict:
    """Run the probe job; what it saw of its process."""
    warm_worker.run_job(_job(tmp_path, name, params, **config), PROBE)
    return json.loads((tmp_path / f"{name}.out").read_text())


def _log(tmp_path: Path, name: str) -> str:
    return (tmp_path / "logs" / f"{name}.log").read_text()


def _server_pid(folder: Path) -> int:
    (log,) = folder.glob("*.log")
    return int(log.read_text().split("warm worker ")[1].split()[0])


def test_jobs_run_in_children_of_one_warm_server_and_log_to_their_own_file(jobs):
    states = [_probe(jobs, name) for name in ("first", "second")]
    server = _server_pid(jobs / "w")
    for name, state in zip(("first", "second"), states, strict=True):
        assert state["ppid"] == server and state["pid"] not in (server, os.getpid())
        assert state["cwd"] == str(jobs)  # the client's working directory
        assert f"probe job in process {state['pid']}" in _log(jobs, name)
        assert "peak memory of this job's process" in _log(jobs, name)


def test_children_inherit_the_drawing_warm_up_and_a_frozen_heap(jobs):
    """The server draws once (fonts, savers) and freezes its heap, so that a child's
    garbage collections skip the preloaded objects instead of touching (copying) them."""
    state = _probe(jobs, "state")
    assert state["pdf_saver_loaded"] and state["gc_frozen"] > 100_000, state


def test_a_server_in_an_env_without_matplotlib_still_serves(jobs):
    """Under --use-conda a rule's env holds only what its jobs import: the server skips the
    preloads it cannot import, and the drawing warm-up with them."""
    blocked = jobs / "matplotlib"
    blocked.mkdir()
    (blocked / "__init__.py").write_text("raise ImportError('not in this env')\n")
    state = _probe(jobs, "state")
    assert state["ppid"] == _server_pid(jobs / "w")  # forked, not run in the client's process
    assert not state["pdf_saver_loaded"] and state["gc_frozen"] > 0, state


def test_the_child_takes_the_jobs_environment_and_umask(jobs, monkeypatch):
    monkeypatch.setenv("PWD", str(jobs / "elsewhere"))  # a per-job variable: no new server
    previous = os.umask(0o027)
    try:
        state = _probe(jobs, "state")
    finally:
        os.umask(previous)
    assert state["umask"] == 0o027 and state["environment"] == dict(os.environ)


def test_a_failing_job_fails_its_client_and_its_log_holds_the_traceback(jobs, capsys):
    message = "variant oscillator/broken seed 3 cannot train"
    with pytest.raises(SystemExit) as failed:
        _probe(jobs, "broken", {"fail": message})
    assert failed.value.code == 1
    assert f"ValueError: {message}" in _log(jobs, "broken")
    assert message in capsys.readouterr().err


def test_killing_the_client_ends_its_job(jobs):
    client = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
                from types import SimpleNamespace
                from workflow_scripts.warm_worker import run_job
                run_job(SimpleNamespace(config={{"device": "cpu"}},
                                        log=[{str(jobs / "linger.log")!r}],
                                        output=[{str(jobs / "linger.out")!r}],
                                        params={{"linger_s": 60}}),
                        {PROBE!r})
            """),
        ],
        env={**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{jobs}"},
    )
    output = jobs / "linger.out"
    deadline = time.monotonic() + 120
    while not output.exists() or not output.read_text():
        assert time.monotonic() < deadline and client.poll() is None, "the job never started"
        time.sleep(0.1)
    child = json.loads(output.read_text())["pid"]
    client.kill()  # as Snakemake cancels a job
    client.wait()
    deadline = time.monotonic() + 10
    while _alive(child):
        assert time.monotonic() < deadline, "the job outlived its client"
        time.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie waits for the server to reap it: it no longer runs
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def test_an_idle_server_exits_and_removes_its_socket(jobs):
    _probe(jobs, "once")
    server = _server_pid(jobs / "w")
    deadline = time.monotonic() + 30
    while _alive(server):
        assert time.monotonic() < deadline, "the server did not exit when idle"
        time.sleep(0.2)
    assert not list((jobs / "w").glob("*.sock"))


def test_the_jobs_own_device_decides_not_the_top_level_one(monkeypatch):
    """A CPU experiment's job may fork under a top-level device: cuda (config/paper.yaml's
    oscillator and Burgers); a CUDA experiment's job may not under device: cpu."""
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    for top, own, forks in (("cuda", "cpu", True), ("cpu", "cuda", False)):
        job = SimpleNamespace(config={"device": top}, params=SimpleNamespace(device=own))
        assert warm_worker.job_device(job) == own
        assert (warm_worker.disabled_because(job.config, own) is None) == forks


@pytest.mark.parametrize(
    ("config", "environment", "reason"),
    [
        ({"warm_worker": False}, {}, "config key 'warm_worker' is false"),
        ({}, {"SLURM_JOB_ID": "42"}, "inside a SLURM allocation"),
        ({"device": "cuda"}, {}, "CUDA may be used"),
    ],
)
def test_where_forking_is_off_the_job_runs_in_its_own_process(
    jobs, monkeypatch, config, environment, reason
):
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    job = _job(jobs, "direct", **config)
    assert reason in warm_worker.disabled_because(job.config)
    state = _probe(jobs, "direct", **config)
    assert state["pid"] == os.getpid()
    assert reason in _log(jobs, "direct")
    assert "peak memory of this job's process" in _log(jobs, "direct")
    assert not list((jobs / "w").glob("*.sock"))


def test_a_target_outside_workflow_scripts_is_not_run_by_the_server(jobs):
    warm_worker.run_job(_job(jobs, "outside"), "jobs_for_test:report")
    assert int((jobs / "outside.out").read_text()) == os.getpid()
    assert "jobs_for_test:report is not under workflow_scripts" in _log(jobs, "outside")


def test_the_fingerprint_follows_the_source_the_path_and_the_environment(monkeypatch, tmp_path):
    copy = tmp_path / "checkout"
    (copy / "workflow_scripts").mkdir(parents=True)
    (copy / "workflow_scripts" / "module.py").write_text("x = 1\n")
    monkeypatch.setattr(environment, "CHECKOUT", copy)
    before = environment.fingerprint()
    assert environment.fingerprint() == before
    (copy / "workflow_scripts" / "module.py").write_text("x = 2\n")
    edited = environment.fingerprint()
    assert edited != before
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    assert environment.fingerprint() != edited
    monkeypatch.setenv("PWD", "/somewhere/else")  # per job: the same server
    with_pythonpath = environment.fingerprint()
    monkeypatch.setenv("PWD", "/another/place")
    assert environment.fingerprint() == with_pythonpath


def test_a_job_whose_settings_differ_from_the_servers_runs_in_its_own_process(jobs, monkeypatch):
    """Each launch state has a server of its own; were a job routed to another's (here: the
    socket name forced), the child sees the difference and refuses before running anything."""
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    assert _probe(jobs, "one")["ppid"] == _server_pid(jobs / "w")
    first_servers = environment.fingerprint()
    monkeypatch.setattr(warm_worker, "fingerprint", lambda: first_servers)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    assert _probe(jobs, "two")["pid"] == os.getpid()
    assert "settings differ from the server's: OPENBLAS_NUM_THREADS" in _log(jobs, "two")


def test_the_peak_memory_logged_is_the_jobs_own(jobs):
    _probe(jobs, "small")
    _probe(jobs, "large", {"allocate_mb": 300})
    small, large = (_peak_mb(_log(jobs, name)) for name in ("small", "large"))
    assert large - small > 250, (small, large)


def _peak_mb(log: str) -> float:
    return float(log.split("peak memory of this job's process: ")[1].split()[0])


# ---- what the worker trusts: the folder, the peer, the key, its own threads ------------------


class Payload:
    """Unpickling it creates ``marker``: the code a hostile peer would run as the user."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return Path.touch, (self.marker,)


@contextlib.contextmanager
def public_folder() -> Iterator[Path]:
    """A folder that another user can reach (pytest's own are private)."""
    folder = Path(tempfile.mkdtemp(prefix="warm-worker-test-", dir="/tmp"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder)


def as_nobody(action: Callable[[], int], *, wait: bool = True) -> int:
    """Run ``action`` in a forked child that has become user nobody: its exit status, or its
    pid where ``wait`` is false."""
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            status = action()
        finally:
            os._exit(status)
    if not wait:
        return pid
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def _framed(payload: bytes) -> bytes:
    return struct.pack("!Q", len(payload)) + payload


@as_root
def test_a_folder_planted_by_another_user_is_refused_and_no_payload_runs(jobs, monkeypatch):
    """Another account made the worker's folder first, open to all, with a server of its own
    that answers every connection with a payload: the job runs in its own process, its log
    names the folder, and nothing connects to the planted server."""
    marker = jobs / "payload-ran"
    with public_folder() as public:
        monkeypatch.delenv("WARM_WORKER_DIR")
        monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
        monkeypatch.setattr(tempfile, "tempdir", str(public))
        planted = public / f"workflow-warm-worker-{os.getuid()}"
        planted.mkdir()
        os.chown(planted, NOBODY, NOBODY)
        planted.chmod(0o777)
        door = planted / f"{environment.fingerprint()}.sock"
        answered = planted / "answered"

        def hostile_server() -> int:
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(str(door))
            listener.listen(4)
            while True:
                channel = listener.accept()[0]
                answered.touch()
                channel.sendall(_framed(pickle.dumps(Payload(marker))))
                channel.close()

        server = as_nobody(hostile_server, wait=False)
        try:
            deadline = time.monotonic() + 30
            while not door.exists():
                assert time.monotonic() < deadline, "the planted server did not start"
                time.sleep(0.01)
            state = _probe(jobs, "planted")
        finally:
            os.kill(server, 9)
            os.waitpid(server, 0)
        assert not answered.exists()
    assert state["pid"] == os.getpid()
    log = _log(jobs, "planted")
    assert f"warm-worker folder {planted} is owned by uid {NOBODY}" in log
    assert not marker.exists()


@as_root
def test_the_server_refuses_a_peer_of_another_uid(jobs):
    """A peer of another uid that reaches the socket (here through a hard link, as if the
    folder's protection were bypassed) is refused before anything is read; the server serves
    on."""
    _probe(jobs, "first")
    (socket_file,) = (jobs / "w").glob("*.sock")
    marker = jobs / "payload-ran"
    with public_folder() as public:
        door = public / "door.sock"
        os.link(socket_file, door)
        door.chmod(0o777)

        def knock() -> int:
            channel = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            channel.connect(str(door))
            try:
                channel.sendall(_framed(pickle.dumps(Payload(marker))))
                return len(channel.recv(1 << 16))  # 0: closed without a word
            except ConnectionError:  # or reset before it could send
                return 0

        assert as_nobody(knock) == 0
    assert not marker.exists()
    (server_log,) = (jobs / "w").glob("*.log")
    assert f"refused a connection from uid {NOBODY}" in server_log.read_text()
    assert _probe(jobs, "second")["ppid"] == _server_pid(jobs / "w")


def test_a_peer_without_the_key_is_refused_before_anything_is_unpickled(jobs):
    _probe(jobs, "first")
    (socket_file,) = (jobs / "w").glob("*.sock")
    marker = jobs / "payload-ran"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as channel:
        channel.connect(str(socket_file))
        channel.sendall(_framed(pickle.dumps(Payload(marker))))
        channel.settimeout(30)
        received = b""
        with contextlib.suppress(ConnectionResetError):  # closed with our bytes unread
            while chunk := channel.recv(1 << 16):
                received += chunk
    assert len(received) <= 8 + 32  # at most the server's framed nonce: nothing answered
    assert not marker.exists()
    (server_log,) = (jobs / "w").glob("*.log")
    deadline = time.monotonic() + 10
    while "refused a connection: the peer sent" not in server_log.read_text():
        assert time.monotonic() < deadline, server_log.read_text()
        time.sleep(0.1)


def test_a_symlink_in_the_folder_is_not_followed(jobs):
    (jobs / "w").mkdir(mode=0o700)
    elsewhere = jobs / "elsewhere"
    os.symlink(elsewhere, jobs / "w" / "authkey")
    assert _probe(jobs, "state")["pid"] == os.getpid()
    assert not elsewhere.exists()
    assert "warm worker unavailable" in _log(jobs, "state")


def test_a_server_with_a_thread_running_refuses_to_fork(jobs):
    """A library that left a thread running in the server (here: a sitecustomize that every
    interpreter on the path runs): the server refuses to fork and stops serving, and the job
    runs in its own process."""
    (jobs / "sitecustomize.py").write_text(
        "import threading, time\n"
        "threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()\n"
    )
    assert _probe(jobs, "threaded")["pid"] == os.getpid()
    assert "warm worker unavailable" in _log(jobs, "threaded")
    (server_log,) = (jobs / "w").glob("*.log")
    assert "refusing to fork with 2 threads" in server_log.read_text()


# ---- the same results with and without it ---------------------------------------------------


def _errors(path: Path) -> dict:
    return {
        key: value
        for key, value in json.loads(path.read_text()).items()
        if "mse" in key or "error" in key or "l2" in key
    }


@pytest.mark.slow
def test_results_are_identical_with_and_without_the_warm_worker(tmp_path, tiny):
    """The oscillator PINN (Adam, a residual through autograd) and the Burgers PINN (Adam, then
    L-BFGS), once forked from the warm worker and once each in its own process: every error is
    bitwise equal (only times and energies move)."""
    targets = [f"results/{e}/pinn/seed0/metrics.json" for e in ("oscillator", "burgers")]
    errors = {}
    for warm in (True, False):
        config = only(tiny, "oscillator", seeds=[0])
        config["experiments"]["burgers"]["enabled"] = True
        config["warm_worker"] = warm
        workdir = tmp_path / f"warm_{warm}"
        snakemake(workdir, config, *targets)
        errors[warm] = {target: _errors(workdir / target) for target in targets}
        log = (workdir / "logs" / "train" / "burgers" / "pinn" / "seed0.log").read_text()
        assert ("running in the job's own process" in log) is not warm
    assert all(errors[True].values()) and errors[True] == errors[False]


@pytest.mark.slow
def test_a_two_thread_training_is_identical_with_and_without_the_warm_worker(tmp_path, tiny):
    """A shear-flow U-Net training with `threads: 2` (Snakemake sets OMP_NUM_THREADS and
    OPENBLAS_NUM_THREADS to 2: a server of its own, whose OpenBLAS pool started at import),
    forked, then re-run in its own process on the same data: the same weights, bit for bit."""
    config = only(tiny, "shear_flow", seeds=[0])
    block = config["experiments"]["shear_flow"]
    for name, variant in block["models"].items():
        variant["enabled"] = name == "unet"
    block["data"]["simulate"].update({"nx": 16, "ny": 32, "reynolds": [1.0e4], "n_snapshots": 12})
    block["data"]["simulate"]["trajectories"] = {"train": 2, "valid": 1, "test": 1}
    block["data"]["regrid"].update({"nx": 8, "ny": 16, "time_chunk": 4})
    block["training"].update({"steps": 20, "log_every": 10, "threads": 2})
    target = "results/shear_flow/unet/seed0/train.json"
    run = tmp_path / "results" / "shear_flow" / "unet" / "seed0"
    trained = {}
    for warm in (True, False):
        config["warm_worker"] = warm
        snakemake(tmp_path, config, target, "--forcerun", "train")
        summary = json.loads((run / "train.json").read_text())
        weights = torch.load(run / "model.pt", weights_only=True)["state_dict"]
        trained[warm] = summary, weights
        log = (tmp_path / "logs" / "train" / "shear_flow" / "unet" / "seed0.log").read_text()
        assert ("running in the job's own process" in log) is not warm
        assert summary["threads"] == 2
    (forked, forked_weights), (direct, direct_weights) = trained[True], trained[False]
    assert _errors(run / "train.json") and forked["final_val_mse"] == direct["final_val_mse"]
    assert forked_weights.keys() == direct_weights.keys()
    for name, tensor in forked_weights.items():
        assert torch.equal(tensor, direct_weights[name]), name
