"""Which server may run a job: one started exactly as the job's own process would be.

Libraries read some settings once, when they load: OpenBLAS and OpenMP their thread counts
(Snakemake sets ``OMP_NUM_THREADS`` and the like to each job's ``threads``), Python its hash
seed, and so on. A child forked from a server has the server's libraries, loaded under the
server's settings, so a job may be forked only from a server whose start saw the job's: its
whole environment (less the :data:`PER_JOB_VARIABLES`) and its resource limits. Both key the
server's socket (:func:`fingerprint`), so each different setting gets a server of its own, and
the child checks them again before it runs anything (:func:`differences`).
"""

from __future__ import annotations

import hashlib
import os
import resource
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

CHECKOUT = Path(__file__).resolve().parents[2]

# Set per process by the shell (its working directory, the command it ran, its depth), read by
# no library to decide what to compute: the child takes the job's own values, and its working
# directory, from the request. Every other variable keys the server.
PER_JOB_VARIABLES = frozenset({"PWD", "OLDPWD", "_", "SHLVL"})


def launch_state() -> dict[str, Any]:
    """What a process's libraries may have read when they loaded: its environment, less the
    per-job variables, and its resource limits (``ulimit``)."""
    limits = {
        name: resource.getrlimit(getattr(resource, name))
        for name in sorted(dir(resource))
        if name.startswith("RLIMIT_")
    }
    environment = {k: v for k, v in os.environ.items() if k not in PER_JOB_VARIABLES}
    return {"environment": environment, "limits": limits}


def per_job_environment() -> dict[str, str]:
    """This process's values of the :data:`PER_JOB_VARIABLES`."""
    return {k: v for k, v in os.environ.items() if k in PER_JOB_VARIABLES}


def differences(job: Mapping[str, Any], server: Mapping[str, Any]) -> list[str]:
    """The names of the settings in which two launch states differ (values left out: an
    environment may hold secrets, and these names go to logs)."""
    names = []
    for part in ("environment", "limits"):
        ours, theirs = job[part], server[part]
        names += sorted(k for k in ours.keys() | theirs.keys() if ours.get(k) != theirs.get(k))
    return names


def fingerprint() -> str:
    """The interpreter, its installed packages (site-packages' listings change on install),
    this checkout's source and the launch state: a server serves only jobs that match all."""
    digest = hashlib.sha256()
    digest.update(f"{sys.executable}\0{sys.version}\0{CHECKOUT}\0".encode())
    state = launch_state()
    digest.update(repr(sorted(state["environment"].items())).encode())
    digest.update(repr(state["limits"]).encode())
    for entry in sys.path:
        path = Path(entry)
        if path.name == "site-packages" and path.is_dir():
            digest.update(f"{entry}:{path.stat().st_mtime_ns}\0".encode())
    for source in sorted((CHECKOUT / "workflow_scripts").rglob("*.py")):
        digest.update(str(source.relative_to(CHECKOUT)).encode())
        digest.update(source.read_bytes())
    return digest.hexdigest()[:20]
