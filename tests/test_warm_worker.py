"""The warm worker: jobs run in children of one warm process, fail as they would alone, die
with their client, and give the same results as jobs run in their own process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from workflow_helpers import REPO, only, snakemake, stop_warm_workers

from workflow_scripts import warm_worker

JOBS = """
import gc, json, logging, os, sys, time
from pathlib import Path

def report(smk):
    logging.getLogger("workflow_scripts").info("hello from the child")
    Path(smk.output[0]).write_text(f"{os.getpid()} {os.getppid()} {os.getcwd()}")

def inherited(smk):
    pdf = "matplotlib.backends.backend_pdf" in sys.modules
    state = {"frozen": gc.get_freeze_count(), "pdf": pdf}
    Path(smk.output[0]).write_text(json.dumps(state))

def fail(smk):
    raise ValueError("variant oscillator/broken seed 3 cannot train")

def linger(smk):
    Path(smk.output[0]).write_text(str(os.getpid()))
    time.sleep(60)
"""


@pytest.fixture
def jobs(tmp_path, monkeypatch):
    """A module of job functions the server can import, and a private server folder."""
    (tmp_path / "jobs_for_test.py").write_text(JOBS)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setenv("WARM_WORKER_DIR", str(tmp_path / "w"))
    monkeypatch.setenv("WARM_WORKER_IDLE_S", "2")
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    stop_warm_workers(tmp_path / "w")


def _job(tmp_path: Path, name: str, **config) -> SimpleNamespace:
    return SimpleNamespace(
        config={"device": "cpu", **config},
        log=[str(tmp_path / "logs" / f"{name}.log")],
        output=[str(tmp_path / f"{name}.out")],
    )


def _server_pid(folder: Path) -> int:
    (log,) = folder.glob("*.log")
    return int(log.read_text().split("warm worker ")[1].split()[0])


def test_jobs_run_in_children_of_one_warm_server_and_log_to_their_own_file(jobs):
    for name in ("first", "second"):
        warm_worker.run_job(_job(jobs, name), "jobs_for_test:report")
    server = _server_pid(jobs / "w")
    for name in ("first", "second"):
        pid, parent, cwd = (jobs / f"{name}.out").read_text().split()
        assert int(parent) == server and int(pid) not in (server, os.getpid())
        assert cwd == str(jobs)  # the client's working directory
        assert "hello from the child" in (jobs / "logs" / f"{name}.log").read_text()


def test_children_inherit_the_drawing_warm_up_and_a_frozen_heap(jobs):
    """The server draws once (fonts, savers) and freezes its heap, so that a child's
    garbage collections skip the preloaded objects instead of touching (copying) them."""
    warm_worker.run_job(_job(jobs, "state"), "jobs_for_test:inherited")
    state = json.loads((jobs / "state.out").read_text())
    assert state["pdf"] and state["frozen"] > 100_000, state


def test_a_server_in_an_env_without_matplotlib_still_serves(jobs):
    """Under --use-conda a rule's env holds only what its jobs import: the server skips the
    preloads it cannot import, and the drawing warm-up with them."""
    blocked = jobs / "matplotlib"
    blocked.mkdir()
    (blocked / "__init__.py").write_text("raise ImportError('not in this env')\n")
    warm_worker.run_job(_job(jobs, "state"), "jobs_for_test:inherited")
    assert _server_pid(jobs / "w")  # served by a warm server, not in the client's process
    state = json.loads((jobs / "state.out").read_text())
    assert not state["pdf"] and state["frozen"] > 0, state


def test_a_failing_job_fails_its_client_and_its_log_holds_the_traceback(jobs, capsys):
    with pytest.raises(SystemExit) as failed:
        warm_worker.run_job(_job(jobs, "broken"), "jobs_for_test:fail")
    assert failed.value.code == 1
    log = (jobs / "logs" / "broken.log").read_text()
    assert "ValueError: variant oscillator/broken seed 3 cannot train" in log
    assert "oscillator/broken seed 3" in capsys.readouterr().err


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
                                        output=[{str(jobs / "linger.out")!r}]),
                        "jobs_for_test:linger")
            """),
        ],
        env={**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{jobs}"},
    )
    output = jobs / "linger.out"
    deadline = time.monotonic() + 120
    while not output.exists() or not output.read_text():
        assert time.monotonic() < deadline and client.poll() is None, "the job never started"
        time.sleep(0.1)
    child = int(output.read_text())
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
    warm_worker.run_job(_job(jobs, "once"), "jobs_for_test:report")
    server = _server_pid(jobs / "w")
    deadline = time.monotonic() + 30
    while _alive(server):
        assert time.monotonic() < deadline, "the server did not exit when idle"
        time.sleep(0.2)
    assert not list((jobs / "w").glob("*.sock"))


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
    warm_worker.run_job(job, "jobs_for_test:report")
    pid = int((jobs / "direct.out").read_text().split()[0])
    assert pid == os.getpid()
    assert reason in (jobs / "logs" / "direct.log").read_text()
    assert not list((jobs / "w").glob("*.sock"))


def test_the_fingerprint_follows_the_source_and_the_path(monkeypatch, tmp_path):
    copy = tmp_path / "checkout"
    (copy / "workflow_scripts").mkdir(parents=True)
    (copy / "workflow_scripts" / "module.py").write_text("x = 1\n")
    monkeypatch.setattr(warm_worker, "CHECKOUT", copy)
    before = warm_worker.fingerprint()
    assert warm_worker.fingerprint() == before
    (copy / "workflow_scripts" / "module.py").write_text("x = 2\n")
    edited = warm_worker.fingerprint()
    assert edited != before
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    assert warm_worker.fingerprint() != edited


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
        errors[warm] = {
            target: {
                key: value
                for key, value in json.loads((workdir / target).read_text()).items()
                if "mse" in key or "error" in key or "l2" in key
            }
            for target in targets
        }
        log = (workdir / "logs" / "train" / "burgers" / "pinn" / "seed0.log").read_text()
        assert ("running in the job's own process" in log) is not warm
    assert all(errors[True].values()) and errors[True] == errors[False]
