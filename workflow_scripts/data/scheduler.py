"""Which Dask scheduler runs a data stage's computations.

One context manager, so that a new kind of scheduler is one more branch here and every stage
that computes under it gets it: local pools, the address of a running dask.distributed
scheduler, or ``slurm``, a dask-jobqueue cluster whose workers are sbatch jobs, started for
the enclosed computations and closed after them.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping
from typing import Any

import dask

from workflow_scripts.data.errors import RegridError

LOCAL_SCHEDULERS: tuple[str, ...] = ("threads", "processes", "synchronous")
DISTRIBUTED_PREFIXES: tuple[str, ...] = ("tcp://", "tls://", "inproc://", "ucx://", "ws://")
#: A dask-jobqueue SLURMCluster for the duration of the computations (``slurm`` settings).
SLURM = "slurm"
#: The job name of the Dask workers' sbatch jobs (squeue --name dask-worker).
SLURM_WORKER_JOB_NAME = "dask-worker"

log = logging.getLogger(__name__)


@contextlib.contextmanager
def dask_scheduler(
    scheduler: str = "threads",
    num_workers: int | None = None,
    slurm: Mapping[str, Any] | None = None,
) -> Iterator[None]:
    """Run the enclosed dask computations on a local scheduler or a dask.distributed cluster.

    ``scheduler`` is "threads", "processes", "synchronous", the address of a running
    dask.distributed scheduler ("tcp://host:8786"), or "slurm": a dask-jobqueue SLURMCluster
    started here with ``slurm``'s settings (see :func:`slurm_cluster`) and closed on the way
    out, also when the computation fails. ``num_workers`` applies to local pools.
    """
    if scheduler in LOCAL_SCHEDULERS:
        with dask.config.set(scheduler=scheduler, num_workers=num_workers):
            yield
        return
    if scheduler.startswith(DISTRIBUTED_PREFIXES):
        from distributed import Client  # optional: only needed for a cluster

        # Closing a Client that connected to an address leaves the cluster running.
        with Client(scheduler, set_as_default=False) as client:
            with dask.config.set(scheduler=client):
                yield
        return
    if scheduler == SLURM:
        if slurm is None:
            raise RegridError("the slurm dask scheduler needs its settings (data.regrid.slurm)")
        with slurm_cluster(slurm) as client, dask.config.set(scheduler=client):
            yield
        return
    # A RegridError (a ValueError naming the setting): the regrid stage is its only user yet.
    raise RegridError(
        f"unknown dask scheduler {scheduler!r}: use one of {LOCAL_SCHEDULERS}, {SLURM!r} or the "
        "address of a dask.distributed scheduler such as tcp://host:8786"
    )


@contextlib.contextmanager
def slurm_cluster(settings: Mapping[str, Any]) -> Iterator[Any]:  # yields a distributed.Client
    """A dask-jobqueue SLURMCluster of ``workers`` sbatch jobs, each one Dask worker process
    with ``cores`` threads and ``memory`` (a Dask size, "4GB"), for ``walltime``, in
    ``partition`` (None: the cluster's default) under ``account`` (None: none given).

    The scheduler runs in this process, the workers read the inputs and write the outputs by
    path: the nodes must share the filesystem. Waits for every worker before yielding (queue
    time is spent here, not inside a computation) and cancels the jobs on the way out.
    """
    from dask_jobqueue import SLURMCluster  # optional: only needed on a Slurm cluster

    workers = int(settings["workers"])
    cluster = SLURMCluster(
        cores=int(settings["cores"]),
        processes=1,
        memory=str(settings["memory"]),
        walltime=str(settings["walltime"]),
        queue=settings.get("partition"),
        account=settings.get("account"),
        job_name=SLURM_WORKER_JOB_NAME,
        log_directory=settings.get("log_directory"),
        scheduler_options={"dashboard": False},  # several regrids may share a login node
    )
    try:
        cluster.scale(jobs=workers)
        log.info(
            "dask scheduler %s: %d SLURM worker job(s) submitted",
            cluster.scheduler_address,
            workers,
        )
        from distributed import Client

        with Client(cluster, set_as_default=False) as client:
            client.wait_for_workers(workers)
            job_ids = sorted(str(job.job_id) for job in cluster.workers.values())
            log.info("dask workers running as SLURM job(s) %s", ", ".join(job_ids))
            yield client
    finally:
        cluster.close()
        log.info("dask SLURM cluster closed (its worker jobs cancelled)")
