"""profiles/slurm on a real single-node Slurm: a partition that does not exist stops the run
before any work.

The test installs Debian's slurm-wlm and munge where missing (skipped, with the reason, where
they cannot be installed), starts munged, slurmctld and slurmd from a temporary directory (own
ports, own munge socket, nothing under /etc) and stops them by pid at the end of the session.
It is ordered last (conftest.py): while the test's SLURM_CONF names a controller, every
Snakemake start asks it for its config (the plugin's help text runs `scontrol show config`).
"""

from __future__ import annotations

import copy
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from conftest import tiny_config
from workflow_helpers import REPO, SNAKEMAKE

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

PACKAGES = ("slurm-wlm", "munge")
DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "squeue", "scontrol", "sinfo")
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


def _ensure_slurm() -> list[str]:
    """Install the Debian packages where a binary is missing; the packages this added."""
    if all(shutil.which(b) for b in DAEMONS + CLIENTS):
        return []
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("slurm-wlm/munge missing and no root apt-get to install them")
    before = _installed_packages()
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update", "-q"],
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", *PACKAGES],
    ):
        run = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
        if run.returncode != 0:
            pytest.skip(f"cannot install {PACKAGES}: {run.stderr[-500:]}")
    return sorted(_installed_packages() - before)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("", 0))
        return s.getsockname()[1]


def _slurm_conf(root: Path, host: str) -> str:
    # The node claims the profile's sizes (config_overrides: memory beyond this machine's, one
    # count-only GPU on /dev/null) so that profiles/slurm runs unchanged: its jobs are tiny.
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
NodeName={host} CPUs={os.cpu_count()} RealMemory=64000 Gres=gpu:1 State=UNKNOWN
PartitionName=cpu Nodes={host} Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes={host} MaxTime=INFINITE State=UP
"""


class Cluster:
    """munged, slurmctld and slurmd in the foreground, so each pid is the daemon's own."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.processes: list[subprocess.Popen] = []
        self.env = {**os.environ, "SLURM_CONF": str(root / "slurm.conf")}

    def start(self) -> None:
        root, host = self.root, socket.gethostname().split(".")[0]
        for name in ("munge", "state", "spool", "log"):
            (root / name).mkdir(mode=0o700)
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

    def stop(self) -> None:
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


def _config() -> dict:
    """All three experiments, one seed, tiny budgets; one (Re, Sc) file per split."""
    config = tiny_config()
    config["seeds"] = [0]
    simulate = config["experiments"]["shear_flow"]["data"]["simulate"]
    simulate.update({"reynolds": [1.0e4], "n_snapshots": 20})
    return config


def _snakemake(workdir: Path, config: dict, *args: str, env: dict | None = None, timeout=900):
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    command = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(workdir)]
    command += [*args, "--configfile", str(workdir / "config.yaml")]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, cwd=REPO, env=env
    )


def test_a_partition_that_does_not_exist_stops_before_any_work(cluster, tmp_path):
    profile = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
    profile = copy.deepcopy(profile)
    profile["default-resources"]["slurm_partition"] = "no_such_partition"
    (tmp_path / "profile").mkdir()
    (tmp_path / "profile" / "config.yaml").write_text(yaml.safe_dump(profile))
    workdir = tmp_path / "run"
    run = _snakemake(
        workdir,
        _config(),
        "--workflow-profile",
        str(tmp_path / "profile"),
        *FAST_STATUS,
        env=cluster.env,
        timeout=300,
    )
    assert run.returncode != 0
    assert "Invalid partition name specified" in run.stdout + run.stderr
    assert not (workdir / "results").exists()
