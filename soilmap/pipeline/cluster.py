"""Where the dask graph runs: local threads by default, or a Dask cluster.

* default: dask's threaded scheduler in this process (simple, no set-up);
* ``workers=N``: a :class:`distributed.LocalCluster` of N worker processes on this
  machine;
* ``scheduler="tcp://host:8786"``: an existing cluster (dask-jobqueue, Kubernetes,
  Coiled and others all give such an address).  Workers open input files by path,
  so inputs and the output folder must be on a file system every worker sees.

Also sizes chunks from a memory ceiling, and shows progress on a terminal.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import dask
import dask.threaded

from soilmap.errors import ConfigError

__all__ = [
    "MIN_MEMORY",
    "Compute",
    "check_cluster_options",
    "chunk_cells_for_memory",
    "compute_context",
    "compute_on",
    "parse_memory",
]

log = logging.getLogger(__name__)

_UNITS = {
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}


def parse_memory(text: str | int | float) -> int:
    """Bytes in ``"2GB"``, ``"1.5 GiB"``, ``"512MB"`` or a plain number of bytes.

    Raises
    ------
    soilmap.errors.ConfigError
        For anything else.
    """
    if isinstance(text, int | float):
        return int(text)
    m = re.fullmatch(r"\s*([0-9.]+)\s*([a-zA-Z]*)\s*", str(text))
    if not m or (m.group(2) and m.group(2).lower() not in _UNITS):
        raise ConfigError(f"memory limit {text!r}: write it like '2GB', '1.5GiB' or '800MB'.")
    return int(float(m.group(1)) * _UNITS[(m.group(2) or "b").lower()])


def chunk_cells_for_memory(memory_bytes: int, *, layers: int, threads: int) -> int:
    """Cells per chunk so that ``threads`` chunks in flight fit in ``memory_bytes``.

    Each chunk in flight holds about ``layers`` float64-sized arrays (inputs,
    intermediates, per-group layers, outputs); a factor 2 leaves room for dask's
    bookkeeping and GDAL's block cache.
    """
    per_cell = 8 * max(layers, 1) * 2
    cells = memory_bytes // (per_cell * max(threads, 1))
    return int(max(256 * 256, min(cells, 8192 * 8192)))


def as_delayed(obj: Any) -> Any:
    """``obj`` with every dask Array (in dicts, lists, tuples) replaced by Delayed objects.

    The Delayed objects keep the arrays' own keys, so computing them together with
    other outputs shares every input read; passing an Array to ``dask.delayed``
    would re-key its graph and read the inputs again.
    """
    import dask.array as dsa
    from dask.delayed import Delayed
    from dask.highlevelgraph import HighLevelGraph

    if isinstance(obj, dsa.Array):
        if obj.ndim == 0:
            return obj.to_delayed(optimize_graph=False).item()
        # One task on the array's own graph: ``dask.delayed(f)(parts)`` would optimise
        # and materialise the whole graph once per array (a third of a small run's
        # Python time went there); the bundle of a window's outputs does it once.
        name = f"soilmap-assemble-{obj.name}"
        layer: dict[Any, Any] = {name: (_assemble, obj.__dask_keys__())}
        deps: list[Any] = [obj]  # (dask's stubs do not count an Array as a collection)
        return Delayed(name, HighLevelGraph.from_collections(name, layer, dependencies=deps))
    if isinstance(obj, dict):
        return {k: as_delayed(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(as_delayed(v) for v in obj)
    return obj


def _assemble(nested: list) -> Any:
    import numpy as np

    return np.block(nested)


def _bundle(*results: Any) -> tuple:
    return results


@dataclass
class Compute:
    """How to compute: the client (None for local threads) and the write lock factory."""

    client: Any = None
    description: str = "local threads"

    def lock(self, name: str) -> Any:
        """A lock for writes to one file, valid across all workers."""
        if self.client is None:
            return None  # ScratchRaster.store's process-local lock is enough for threads
        from distributed import Lock

        return Lock(name)

    def compute(self, *collections: Any, progress: bool) -> tuple:
        """Compute dask collections in one graph; results in argument order.

        Nested dicts, lists and tuples of Arrays and Delayed objects are accepted.
        One Delayed bundles them: dask 2026.8 returns ``dask.compute`` results of
        mixed collection types out of argument order.
        """
        collection = dask.delayed(_bundle, pure=True)(*as_delayed(collections))
        if self.client is None:
            if progress:
                from dask.diagnostics import ProgressBar

                with ProgressBar(minimum=1.0, out=sys.stderr):
                    return dask.compute(collection)[0]
            # dask's default scheduler for Delayed is the threaded one; not naming it
            # lets dask.config (e.g. testing.raise_if_dask_computes) take effect.
            return dask.compute(collection)[0]
        future = self.client.compute(collection)
        if progress:
            from distributed import progress as show

            show(future)
        return future.result()


#: Below this a chunk cannot hold even the smallest window (bytes).
MIN_MEMORY = 64 * 10**6


def check_cluster_options(
    scheduler: str | None, workers: int | None, memory_limit: str | int | None
) -> None:
    """Refuse ``--scheduler``, ``--workers`` and ``--memory-limit`` values that cannot work.

    Raises
    ------
    soilmap.errors.ConfigError
        A scheduler that is not an address, fewer than 1 worker, a memory limit
        below :data:`MIN_MEMORY`.
    """
    if scheduler is not None and not re.fullmatch(
        r"(tcp|tls|ucx|ws|wss|inproc)://[^\s/:]+(:\d+)?/?|[^\s/:]+:\d+", scheduler.strip()
    ):
        raise ConfigError(
            f"--scheduler {scheduler!r} is not a Dask scheduler address: write it like "
            "tcp://host:8786 (the address your cluster prints)."
        )
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}.")
    if memory_limit is not None:
        n = parse_memory(memory_limit)
        if n < MIN_MEMORY:
            raise ConfigError(
                f"--memory-limit {memory_limit!r} is {n:,} bytes: soilmap needs at least "
                f"{MIN_MEMORY // 10**6} MB (e.g. --memory-limit 2GB)."
            )


@contextlib.contextmanager
def compute_context(
    scheduler: str | None = None,
    workers: int | None = None,
    *,
    memory_limit: str | None = None,
    threads_per_worker: int | None = None,
) -> Iterator[Compute]:
    """Set up where the graph runs for the duration of a ``with`` block.

    Parameters
    ----------
    scheduler : str, optional
        Address of an existing Dask scheduler (``tcp://host:8786``).
    workers : int, optional
        Start a local cluster of this many worker processes.
    memory_limit : str, optional
        Memory per worker for a local cluster (e.g. ``"2GB"``).
    threads_per_worker : int, optional
        Threads per local worker (default: cores / workers).
    """
    check_cluster_options(scheduler, workers, memory_limit)
    if scheduler and workers:
        raise ConfigError("give either --scheduler (an existing cluster) or --workers, not both.")
    if scheduler:
        from distributed import Client

        try:
            client = Client(scheduler, timeout="20s")
        except OSError as exc:
            raise ConfigError(
                f"cannot reach the Dask scheduler at {scheduler!r} ({exc}). Check the address "
                "and that the cluster is running."
            ) from exc
        try:
            yield Compute(client, f"cluster at {scheduler}")
        finally:
            client.close()
        return
    if workers:
        from distributed import Client, LocalCluster

        if workers < 1:
            raise ConfigError(f"--workers must be at least 1, got {workers}.")
        threads = threads_per_worker or max(1, (os.cpu_count() or 1) // workers)
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=threads,
            processes=True,
            memory_limit=parse_memory(memory_limit) if memory_limit else "auto",
            dashboard_address=None,
        )
        client = Client(cluster)
        try:
            yield Compute(client, f"local cluster of {workers} processes x {threads} threads")
        finally:
            client.close()
            cluster.close()
        return
    with dask.config.set(_local_scheduler()):
        yield Compute()


def _local_scheduler() -> dict[str, Any]:
    """dask's threaded scheduler, given when nothing else can be meant.

    Otherwise every ``compute`` looks for a ``distributed.Client`` first, and imports
    distributed (a third of a second) to find none; so does a scheduler given by
    name.  When distributed is not imported no Client exists, so the threaded
    scheduler's function is given; a notebook's Client, or a scheduler set in
    ``dask.config`` (such as :func:`soilmap.testing.raise_if_dask_computes`), is
    left to take effect.
    """
    if dask.config.get("scheduler", None) is not None or "distributed" in sys.modules:
        return {}
    return {"scheduler": dask.threaded.get}


@contextlib.contextmanager
def compute_on(
    compute: Compute | None,
    scheduler: str | None = None,
    workers: int | None = None,
    *,
    memory_limit: str | None = None,
) -> Iterator[Compute]:
    """``compute`` when one is given, else a :func:`compute_context` set up from the rest.

    The entry points (``soilmap.run``, ``run_comparison``) accept a ready place to
    compute or the options to make one; this is that choice, in one place.
    """
    if compute is not None:
        yield compute
        return
    with compute_context(scheduler, workers, memory_limit=memory_limit) as ctx:
        yield ctx
