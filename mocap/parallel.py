"""Independent blocks of a long take's work on every CPU this process may use.

The association's frame chunks and the triangulation's point blocks do not depend on each
other; on a long take they run in forked worker processes (instant to start: nothing is
imported again; each worker gets its block's arrays and returns its results), one per CPU, and
give exactly what one process gives. Where processes cannot be forked (not Linux) or there is
one CPU, the blocks run here, in order.
"""
from __future__ import annotations

import os
import sys
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

__all__ = ["fork_workers", "idle_cpus", "map_blocks"]


def fork_workers(jobs: int) -> int:
    """Processes for ``jobs`` blocks: the CPUs this process may use (at most ``jobs``) where
    processes can be forked, else 1."""
    if not sys.platform.startswith("linux"):
        return 1
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(jobs, cpus or 1))


def idle_cpus() -> int:
    """The CPUs this process may use that the system's load leaves idle (this process's
    own counted as idle), at least 1: the CPUs less the one-minute load average, plus one.

    Forked workers on a busy machine gain no time (the CPUs are taken) and cost some (each
    worker's first touches of the parent's memory are copied): long jobs that may run
    either way (the fit's windows) fork only onto idle CPUs."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return cpus or 1
    return max(1, min(cpus or 1, int(round((cpus or 1) - load + 1))))


def map_blocks(fn, jobs: list, workers: int, chunksize: "int | None" = None) -> list:
    """``[fn(job) for job in jobs]``, in ``workers`` forked processes when more than one
    (``fn`` a module-level function; jobs and results are pickled). ``chunksize``: jobs
    handed to a worker at a time (default: a quarter of a worker's share; 1 for a few long
    jobs, so that no worker is left with several at the end)."""
    if workers <= 1 or len(jobs) <= 1:
        return [fn(job) for job in jobs]
    if chunksize is None:
        chunksize = max(1, len(jobs) // (4 * workers))
    with ProcessPoolExecutor(workers, mp_context=get_context("fork")) as pool:
        return list(pool.map(fn, jobs, chunksize=chunksize))
