"""How the benchmarks watch a measured process: peak RSS of its tree, sampled while it runs."""

from __future__ import annotations

import contextlib
import os
import resource
import subprocess
import threading
import time
from collections.abc import Callable


def tree_rss(proc) -> int:
    """RSS of a psutil process and all its descendants, bytes (0 once it is gone)."""
    import psutil

    total = 0
    with contextlib.suppress(psutil.Error):
        for p in [proc, *proc.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                total += p.memory_info().rss
    return total


def wait_sampled(
    child: subprocess.Popen, t0: float, sample: Callable[[], bool], every: float
) -> tuple[int, resource.struct_rusage, float]:
    """Wait for ``child`` while a thread calls ``sample()`` every ``every`` seconds.

    Parameters
    ----------
    child : subprocess.Popen
        The measured process.
    t0 : float
        ``time.perf_counter()`` when it was started.
    sample : callable
        Records what is watched (RSS, disk); returns False to stop sampling.
    every : float
        Seconds between samples.

    Returns
    -------
    tuple
        The exit code, the ``os.wait4`` resource usage (the child and the descendants it
        waited for) and the wall time since ``t0``, seconds.
    """
    done = threading.Event()

    def loop() -> None:
        while not done.is_set() and sample():
            done.wait(every)

    sampler = threading.Thread(target=loop, daemon=True)
    sampler.start()
    _, status, ru = os.wait4(child.pid, 0)
    wall = time.perf_counter() - t0
    done.set()
    sampler.join()
    return os.waitstatus_to_exitcode(status), ru, wall
