"""profiles/slurm on a real single-node Slurm: a missing partition stops before any work, a tiny
config of all three experiments runs through sbatch with the results of a local run, the regrid's
Dask workers run as sbatch jobs, and a training killed by its time limit resumes.

The test installs Debian's slurm-wlm and munge where missing (skipped, with the reason, where
they cannot be installed), starts munged, slurmctld and slurmd from a temporary directory (own
ports, own munge socket, nothing under /etc) and stops them by pid at the end of the session;
the packages it installed are purged again. It is ordered last (conftest.py): while the test's
SLURM_CONF names a controller, every Snakemake start asks it for its config (the plugin's help
text runs `scontrol show config`).

Time (2 shared cores): the local and the SLURM run of the tiny config go side by side (the SLURM
run waits on sbatch and status checks much of the time), then the kill-and-resume run; each job's
fixed cost (process start, imports, tracker), paid once more by the jobstep's own Snakemake,
decides the total, a few minutes.
"""

from __future__ import annotations

import concurrent.futures
import copy
import json
import math
import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
import zarr
from conftest import tiny_config
from workflow_helpers import REPO, SNAKEMAKE, planned_jobs

from workflow_scripts.experiments import experiment_card

# Minutes on 2 cores, more where the machine is shared: beyond the suite's 600 s per test.
pytestmark = [pytest.mark.slurm, pytest.mark.slow, pytest.mark.timeout(1800)]

PACKAGES = ("slurm-wlm", "munge")
DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "squeue", "scontrol", "sinfo")
WRAPPED_CLIENTS = (*CLIENTS, "srun", "scancel")
# Test-only waits: the plugin's first status check after 2 s instead of 40 s.
FAST_STATUS = (
    "--slurm-init-seconds-before-status-checks",
    "2",
    "--seconds-between-status-checks",
    "1",
)


def _installed_packages() -> set[str]:
    listing = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Package} ${Status}\n"], capture_output=True, text=True
    ).stdout
    return {line.split()[0] for line in listing.splitlines() if line.endswith(" installed")}


def _install_slurm() -> tuple[list[str], str | None]:
    """Install the Debian packages where a binary is missing: (the packages this added, why
    they could not be installed or None)."""
    if all(shutil.which(b) for b in DAEMONS + CLIENTS):
        return [], None
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return [], "slurm-wlm/munge missing and no root apt-get to install them"
    before = _installed_packages()
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update", "-q"],
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", *PACKAGES],
    ):
        run = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
        if run.returncode != 0:
            return sorted(_installed_packages() - before), (
                f"cannot install {PACKAGES}: {run.stderr[-500:]}"
            )
    return sorted(_installed_packages() - before), None


_INSTALLING: concurrent.futures.Future | None = None


def start_installing_slurm() -> None:
    """Begin :func:`_install_slurm` in a background thread. conftest.py calls it once the
    session's tests are collected, so the download and install (tens of seconds) overlap the
    rest of the suite instead of adding to it; the cluster fixture waits for it."""
    global _INSTALLING
    if _INSTALLING is None:
        _INSTALLING = concurrent.futures.ThreadPoolExecutor(1).submit(_install_slurm)


def _ensure_slurm() -> list[str]:
    """Slurm's binaries present (installed here where missing); the packages this added."""
    start_installing_slurm()
    added, failure = _INSTALLING.result()
    if failure is not None:
        pytest.skip(failure)
    return added


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("", 0))
        return s.getsockname()[1]


def _slurm_conf(root: Path, host: str) -> str:
    # The node claims the profile's sizes (config_overrides: memory beyond this machine's, one
    # count-only GPU on /dev/null) so that profiles/slurm runs unchanged: its jobs are tiny.
    # It claims 8 CPUs whatever the machine has, so that a regrid job and the Dask worker jobs
    # it submits (data.regrid.scheduler: slurm) fit beside each other and cannot deadlock.
    # Partitions are named as the profile's (cpu, gpu), both on the one node.
    return f"""\
ClusterName=pytest
SlurmctldHost={host}
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
SlurmUser=root
AuthType=auth/munge
AuthInfo=socket={root}/munge/munge.socket
CredType=cred/munge
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/log/slurmctld.log
SlurmdLogFile={root}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
SlurmdParameters=config_overrides
ReturnToService=2
GresTypes=gpu
MinJobAge=300
KillWait=2
OverTimeLimit=0
NodeName={host} CPUs={max(8, os.cpu_count() or 1)} RealMemory=64000 Gres=gpu:1 State=UNKNOWN
PartitionName=cpu Nodes={host} Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes={host} MaxTime=INFINITE State=UP
"""


class Cluster:
    """munged, slurmctld and slurmd in the foreground, so each pid is the daemon's own."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.processes: list[subprocess.Popen] = []
        conf = root / "slurm.conf"
        # The jobstep plugin clears SLURM_* (SLURM_CONF too) before its srun, and Dask's worker
        # jobs are submitted from inside a job: each client finds this config through a
        # wrapper first on PATH. (A real cluster has it at the default path, or configless.)
        self.bin = root / "bin"
        self.env = {
            **os.environ,
            "SLURM_CONF": str(conf),
            "PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}",
        }

    def start(self) -> None:
        root, host = self.root, socket.gethostname().split(".")[0]
        for name in ("munge", "state", "spool", "log", "bin"):
            (root / name).mkdir(mode=0o700)
        for client in WRAPPED_CLIENTS:
            wrapper = self.bin / client
            wrapper.write_text(
                f'#!/bin/sh\nSLURM_CONF="${{SLURM_CONF:-{root}/slurm.conf}}" '
                f'exec {shutil.which(client)} "$@"\n'
            )
            wrapper.chmod(0o700)
        key = root / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        (root / "slurm.conf").write_text(_slurm_conf(root, host))
        (root / "gres.conf").write_text(f"NodeName={host} Name=gpu File=/dev/null\n")
        munge = root / "munge"
        self._spawn(
            "munged",
            ["munged", "-F", "--force", f"--socket={munge}/munge.socket", f"--key-file={key}"]
            + [f"--pid-file={munge}/munged.pid", f"--seed-file={munge}/munged.seed"]
            + [f"--log-file={munge}/munged.log"],
        )
        self._wait(lambda: (munge / "munge.socket").exists(), "munged's socket")
        conf = str(root / "slurm.conf")
        self._spawn("slurmctld", ["slurmctld", "-D", "-f", conf])
        self._spawn("slurmd", ["slurmd", "-D", "-f", conf])
        self._wait(lambda: self.sinfo() == {"idle"}, "the node idle in sinfo")

    def _spawn(self, name: str, command: list[str]) -> None:
        out = open(self.root / "log" / f"{name}.out", "w")  # noqa: SIM115 (the daemon's)
        self.processes.append(subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT))

    def _wait(self, ready, what: str, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if ready():
                return
            for process in self.processes:
                if process.poll() is not None:
                    raise RuntimeError(f"{process.args[0]} exited: {self.logs()}")
            time.sleep(0.5)
        raise RuntimeError(f"no {what} after {timeout_s} s: {self.logs()}")

    def sinfo(self) -> set[str]:
        run = subprocess.run(
            ["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, env=self.env
        )
        return set(run.stdout.split()) if run.returncode == 0 else set()

    def logs(self) -> str:
        return "\n".join(p.read_text()[-1500:] for p in sorted((self.root / "log").glob("*")))

    def squeue(self) -> list[str]:
        run = subprocess.run(
            ["squeue", "-h", "-o", "%i"], capture_output=True, text=True, env=self.env
        )
        return run.stdout.split() if run.returncode == 0 else []

    def stop(self) -> None:
        # Jobs first (a failed test may leave some running): slurmstepd outlives slurmd, so
        # only the controller can end them. Then slurmd, slurmctld and munged, by pid.
        jobs = self.squeue()
        if jobs:
            subprocess.run(["scancel", *jobs], capture_output=True, env=self.env)
            deadline = time.monotonic() + 30
            while self.squeue() and time.monotonic() < deadline:
                time.sleep(0.5)
        for process in reversed(self.processes):  # slurmd, slurmctld, then munged
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


@pytest.fixture(scope="session")
def cluster(tmp_path_factory, request):
    added = _ensure_slurm()
    cluster = Cluster(tmp_path_factory.mktemp("slurm"))

    def finish() -> None:
        cluster.stop()
        # Leave the machine as found: the packages this session installed go again.
        if added and not os.environ.get("TEST_SLURM_KEEP_PACKAGES"):
            subprocess.run(
                ["apt-get", "purge", "-y", "-q", *added],
                capture_output=True,
                env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            )

    request.addfinalizer(finish)
    cluster.start()
    return cluster


#: The variant run per experiment: one seed of one variant each keeps the run to 18 jobs.
VARIANTS = {"oscillator": "pinn", "burgers": "mlp", "shear_flow": "unet"}
TARGETS = tuple(f"results/{experiment}/summary.csv" for experiment in VARIANTS)
#: The Dask workers of the SLURM run's regrid: one sbatch job per split's regrid.
DASK_WORKERS = {"workers": 1, "cores": 1, "memory": "1GB", "walltime": "00:10:00"}


def _config() -> dict:
    """All three experiments, one seed, one variant each, tiny budgets and grids; one (Re, Sc)
    file per split of 2/1/1 trajectories of 12 frames at 32 x 64, regridded to 16 x 32."""
    config = tiny_config()
    config["seeds"] = [0]
    config["experiments"]["oscillator"]["device"] = "cpu"  # its jobs hold no GPU
    for experiment, block in config["experiments"].items():
        for model, variant in block["models"].items():
            variant["enabled"] = model == VARIANTS[experiment]
        block["training"].update({"steps": 20, "log_every": 10})
    shear = config["experiments"]["shear_flow"]
    shear["data"]["simulate"].update(
        nx=32, ny=64, reynolds=[1.0e4], n_snapshots=12, trajectories={"train": 2, "valid": 1}
    )
    shear["data"]["simulate"]["trajectories"]["test"] = 1
    shear["data"]["regrid"].update(nx=16, ny=32, time_chunk=4, threads=1)
    shear["training"].update(batch_size=4, warmup_steps=2, checkpoint_every=5)
    return config


def _on_slurm_workers(config: dict) -> dict:
    """``config`` with the shear-flow regrid on a dask-jobqueue SLURMCluster."""
    config = copy.deepcopy(config)
    regrid = config["experiments"]["shear_flow"]["data"]["regrid"]
    regrid.update(scheduler="slurm", slurm=dict(DASK_WORKERS))
    return config


def _profile(directory: Path, change=None) -> Path:
    """profiles/slurm as it is, but for what one node cannot do: the regrid job waits for the
    Dask worker jobs it submits, which an exclusive regrid job would keep off the only node."""
    profile = copy.deepcopy(
        yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
    )
    del profile["set-resources"]["regrid_shear_flow"]["slurm_extra"]
    if change is not None:
        change(profile)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.yaml").write_text(yaml.safe_dump(profile))
    # The partitions it names by a path relative to itself (slurm-partition-config).
    shutil.copy(REPO / "profiles" / "slurm" / profile["slurm-partition-config"], directory)
    return directory


def _command(workdir: Path, config: dict, *args: str) -> list[str]:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    command = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(workdir)]
    return command + [*args, "--configfile", str(workdir / "config.yaml")]


def _snakemake(workdir: Path, config: dict, *args: str, env: dict | None = None, timeout=900):
    return subprocess.run(
        _command(workdir, config, *args),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env=env,
    )


def _on_slurm(cluster, workdir: Path, config: dict, profile: Path, *args: str, timeout=900):
    """A run through ``profile`` on the test's Slurm, keeping the SLURM logs of every job."""
    return _snakemake(
        workdir,
        config,
        "--workflow-profile",
        str(profile),
        *FAST_STATUS,
        "--slurm-keep-successful-logs",
        *args,
        env=cluster.env,
        timeout=timeout,
    )


SUBMITTED = re.compile(r"Job (\d+) has been submitted with SLURM jobid (\d+) \(log: (\S+)\)\.")


def _submitted(workdir: Path) -> dict[str, Path]:
    """SLURM job id -> its SLURM log, from the newest Snakemake log of ``workdir``."""
    newest = max((workdir / ".snakemake" / "log").glob("*.snakemake.log"))
    return {job: Path(log) for _, job, log in SUBMITTED.findall(newest.read_text())}


def _rules_submitted(workdir: Path) -> dict[str, int]:
    """Rule -> jobs submitted with sbatch in the newest Snakemake run of ``workdir``."""
    counts: dict[str, int] = {}
    for log in _submitted(workdir).values():
        rule = log.relative_to(workdir / ".snakemake" / "slurm_logs").parts[0]
        counts[rule.removeprefix("rule_")] = counts.get(rule.removeprefix("rule_"), 0) + 1
    return counts


def test_a_partition_that_does_not_exist_stops_before_any_work(cluster, tmp_path):
    def no_such_partition(profile):
        profile["default-resources"]["slurm_partition"] = "no_such_partition"

    workdir = tmp_path / "run"
    run = _snakemake(
        workdir,
        _config(),
        "--workflow-profile",
        str(_profile(tmp_path / "profile", no_such_partition)),
        *FAST_STATUS,
        env=cluster.env,
        timeout=300,
    )
    assert run.returncode != 0
    assert "Invalid partition name specified" in run.stdout + run.stderr
    assert not (workdir / "results").exists()


# ------------------------------------------------------------------ the tiny config on Slurm


@pytest.fixture(scope="module")
def runs(cluster, tmp_path_factory):
    """The tiny config run locally (threaded regrid) and through profiles/slurm (regrid on Dask
    workers that are sbatch jobs), side by side; (local workdir, SLURM workdir, SLURM run)."""
    root = tmp_path_factory.mktemp("runs")
    config = _config()
    local_dir, slurm_dir = root / "local", root / "slurm"
    local_command = _command(local_dir, config, "--cores", "2", *TARGETS)
    with open(root / "local.out", "w") as out:
        local = subprocess.Popen(local_command, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
    try:
        slurm = _on_slurm(
            cluster, slurm_dir, _on_slurm_workers(config), _profile(root / "profile"), *TARGETS
        )
        local.wait(timeout=900)
    finally:
        if local.poll() is None:  # the SLURM run failed first: stop the local one, by pid
            local.terminate()
            local.wait()
    assert local.returncode == 0, (root / "local.out").read_text()[-4000:]
    assert slurm.returncode == 0, slurm.stdout[-3000:] + slurm.stderr[-6000:] + cluster.logs()
    return local_dir, slurm_dir, slurm


def test_every_job_of_the_tiny_config_went_through_sbatch(runs):
    _, workdir, run = runs
    planned = planned_jobs(run)
    submitted = _submitted(workdir)
    # every planned job has a SLURM job id in Snakemake's log, each its own ...
    assert _rules_submitted(workdir) == planned, (planned, submitted)
    assert len(set(submitted)) == sum(planned.values())
    # ... and a SLURM log of its own, written by the job step that ran it
    for job_id, log in submitted.items():
        assert log.name == f"{job_id}.log"
        assert "1 of 1 steps (100%) done" in log.read_text(), log


def test_each_job_went_to_the_partition_its_device_needs(runs):
    """profiles/slurm/partitions.yaml: a job holding a GPU (train, evaluate and the simulation
    of an experiment whose device is not cpu) to the gpu partition, every other to cpu."""
    _, _, run = runs
    chosen = re.findall(r"Auto-selected partition '(\w+)' for job (\w+)", run.stdout + run.stderr)
    planned = planned_jobs(run)
    on_gpu = {rule: sum(1 for p, r in chosen if (p, r) == ("gpu", rule)) for rule in planned}
    gpu_experiments = [e for e in VARIANTS if e != "oscillator"]  # device auto: may use CUDA
    expected = {rule: 0 for rule in planned} | {
        "train": len(gpu_experiments),
        "evaluate": len(gpu_experiments),
        "simulate_shear_flow": planned.get("simulate_shear_flow", 0),
    }
    assert on_gpu == {rule: expected[rule] for rule in planned}, chosen
    assert len(chosen) == sum(planned.values()), (chosen, planned)  # each by the selection


def test_errors_equal_the_local_runs_bitwise_energies_are_measured_anew(runs):
    local, slurm, _ = runs
    for experiment, model in VARIANTS.items():
        card = experiment_card(experiment)
        run = Path("results", experiment, model, "seed0")
        here = json.loads((local / run / "metrics.json").read_text())
        there = json.loads((slurm / run / "metrics.json").read_text())
        # test errors and every other deterministic score are the same floats; the inference
        # timing, its energy and the repeats it took are measured anew
        deterministic = {k for k in here if not k.startswith("inference_")}
        assert {card.error, card.relative_error, "test_mse"} <= deterministic
        assert {k: here[k] for k in deterministic} == {k: there[k] for k in deterministic}
        assert math.isfinite(there["inference_energy_kwh_per_prediction"])
        columns = [card.error, card.relative_error, "test_mse", "final_val_mse"]
        tables = [
            pd.read_csv(root / "results" / experiment / "summary.csv", dtype=str)[columns]
            for root in (local, slurm)
        ]
        pd.testing.assert_frame_equal(*tables)  # the CSV's text: bitwise


def test_the_regrid_on_slurm_dask_workers_equals_the_threaded_one_bitwise(cluster, runs):
    local, slurm, _ = runs
    data = Path("results", "shear_flow", "data")
    for split in ("train", "valid", "test"):
        threaded = zarr.open_group(local / data / f"{split}.zarr", mode="r")
        on_workers = zarr.open_group(slurm / data / f"{split}.zarr", mode="r")
        assert sorted(threaded.array_keys()) == sorted(on_workers.array_keys())
        for name in threaded.array_keys():
            a, b = threaded[name][...], on_workers[name][...]
            assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), (split, name)
        assert dict(threaded.attrs) == dict(on_workers.attrs)
        stats = f"{split}.stats.yaml"
        assert (local / data / stats).read_text() == (slurm / data / stats).read_text()
        # the workers were sbatch jobs, with their own SLURM logs, and are gone
        log = (slurm / "logs" / "regrid_shear_flow" / f"{split}.log").read_text()
        (job_ids,) = re.findall(r"dask workers running as SLURM job\(s\) ([\d, ]+)", log)
        for job_id in job_ids.split(", "):
            workers = slurm / "logs" / "regrid_shear_flow" / f"{split}.dask"
            assert any(workers.glob(f"dask-worker-{job_id}.*")), (split, job_id)
        assert "dask SLURM cluster closed" in log
        # the energy record says what it could not see
        cost = json.loads((slurm / data / "regrid" / f"{split}.json").read_text())
        assert cost["scheduler"] == "slurm" and "not metered" in cost["energy_note"]
        assert "energy_note" not in json.loads(
            (local / data / "regrid" / f"{split}.json").read_text()
        )
    left = subprocess.run(
        ["squeue", "-h", "--name", "dask-worker", "-o", "%i %T"],
        capture_output=True,
        text=True,
        env=cluster.env,
    )
    assert left.returncode == 0 and not left.stdout.strip(), left.stdout


def _seconds_per_training_step(finished: Path, workdir: Path) -> float:
    """This machine's shear-flow training speed now, alone (the finished runs' curves were
    measured beside each other, several times slower): 40 steps run locally in a copy of the
    finished local run, timed between the learning-curve points at steps 20 and 40."""
    shutil.copytree(finished, workdir, symlinks=True)
    config = _config()
    config["experiments"]["shear_flow"]["training"].update(steps=40, log_every=20)
    run = Path("results", "shear_flow", VARIANTS["shear_flow"], "seed0")
    result = _snakemake(workdir, config, "--cores", "2", str(run / "train.json"), timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    history = pd.read_csv(workdir / run / "history.csv")
    return float(history["elapsed_s"].diff().iloc[-1] / history["step"].diff().iloc[-1])


@pytest.mark.skipif(
    os.environ.get("SLURM_KILL_TEST") != "1",
    reason="opt-in (SLURM_KILL_TEST=1): about 5 minutes, since the training must outlive "
    "Slurm's shortest limit (1 minute, checked every ~30 s); kept out of the default suite's time",
)
def test_a_training_killed_by_its_time_limit_resumes_and_finished_jobs_stay_done(
    cluster, runs, tmp_path
):
    """A shear-flow training of ~150 s under a 1-minute limit (slurm.conf: KillWait=2,
    OverTimeLimit=0; slurmctld checks limits about every 30 s: it dies 60-90 s in) leaves
    its checkpoint; a re-run without the limit resumes it and runs only that run's train,
    evaluate and summarize."""
    local, finished, _ = runs
    seconds_per_step = _seconds_per_training_step(local, tmp_path / "timing")
    workdir = tmp_path / "run"
    shutil.copytree(finished, workdir, symlinks=True)  # mtimes kept: everything is done
    config = _on_slurm_workers(_config())
    run = Path("results", "shear_flow", VARIANTS["shear_flow"], "seed0")

    def one_minute(profile):
        profile["set-resources"]["train"]["runtime"] = 1

    limited = _profile(tmp_path / "limited", one_minute)
    # ~150 s of training at that speed, well past the latest kill (90 s): a job aimed at 90 s
    # once finished its training as the limit struck, leaving no checkpoint to resume. Where the
    # machine then runs faster (it is shared) and the training ends within the limit, again
    # with twice the steps.
    steps = max(200, math.ceil(150.0 / seconds_per_step))
    for _ in range(3):
        config["experiments"]["shear_flow"]["training"].update(
            steps=steps, checkpoint_every=max(1, steps // 20), log_every=max(1, steps // 4)
        )
        killed = _on_slurm(cluster, workdir, config, limited, *TARGETS)
        if killed.returncode != 0:
            break
        steps *= 2
    else:
        pytest.fail(f"{steps // 2} steps still ran within the limit: {killed.stderr[-2000:]}")
    (train_job,) = [j for j, log in _submitted(workdir).items() if "rule_train" in str(log)]
    slurm_log = _submitted(workdir)[train_job].read_text()
    assert "DUE TO TIME LIMIT" in slurm_log, slurm_log[-3000:]
    assert (workdir / run / "checkpoint.pt").exists()
    assert not (workdir / run / "model.pt").exists()  # a failed job leaves no complete output

    profile = _profile(tmp_path / "unlimited")
    plan = _on_slurm(cluster, workdir, config, profile, "-n", *TARGETS)
    assert planned_jobs(plan) == {"train": 1, "evaluate": 1, "summarize": 1}, plan.stdout[-3000:]
    resumed = _on_slurm(cluster, workdir, config, profile, *TARGETS)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-6000:]
    assert _rules_submitted(workdir) == {"train": 1, "evaluate": 1, "summarize": 1}
    step = json.loads((workdir / run / "train.json").read_text())["resumed_from_step"]
    assert 0 < step < steps
    log = workdir / "logs" / "train" / "shear_flow" / VARIANTS["shear_flow"] / "seed0.log"
    assert re.search(rf"resumed from \S+checkpoint\.pt at step {step}\b", log.read_text())
    assert not (workdir / run / "checkpoint.pt").exists()  # removed once training completed
