"""Which Dask scheduler runs a data stage's computations.

One context manager, so that a new kind of scheduler (a Slurm-launched dask.distributed
cluster, say) is one more branch here and every stage that computes under it gets it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import dask

from workflow_scripts.data.errors import RegridError

LOCAL_SCHEDULERS: tuple[str, ...] = ("threads", "processes", "synchronous")
DISTRIBUTED_PREFIXES: tuple[str, ...] = ("tcp://", "tls://", "inproc://", "ucx://", "ws://")


@contextlib.contextmanager
def dask_scheduler(scheduler: str = "threads", num_workers: int | None = None) -> Iterator[None]:
    """Run the enclosed dask computations on a local scheduler or a dask.distributed cluster.

    ``scheduler`` is "threads", "processes", "synchronous" or the address of a running
    dask.distributed scheduler ("tcp://host:8786"); ``num_workers`` applies to local pools.
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
    # A RegridError (a ValueError naming the setting): the regrid stage is its only user yet.
    raise RegridError(
        f"unknown dask scheduler {scheduler!r}: use one of {LOCAL_SCHEDULERS} or the address "
        "of a dask.distributed scheduler such as tcp://host:8786"
    )
