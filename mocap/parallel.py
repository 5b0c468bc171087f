"""Independent blocks of a long take's work on every CPU this process may use.

The association's frame chunks and the triangulation's point blocks do not depend on each
other; on a long take they run in forked worker processes (instant to start: nothing is
imported again; the workers inherit the take's arrays, get the rows of their block and return
its results: :func:`map_spans`), one per CPU, and give exactly what one process gives. Where
processes cannot be forked (not Linux) or there is one CPU, the blocks run here, in order.

:func:`beside` runs one independent step (the cameras' health) in a forked process while this
one goes on with the next (the filter): the child inherits the arrays, nothing is pickled but
its result.

:func:`map_blocks` runs jobs whose arguments are pickled (the fit's windows, forked only onto the
CPUs the load leaves idle: :func:`idle_cpus`).
"""
from __future__ import annotations

import os
import sys
import traceback
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Callable

__all__ = ["fork_workers", "idle_cpus", "map_blocks", "map_spans", "beside"]


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


#: The arguments :func:`map_spans` hands its forked workers by inheritance.
_SHARED: tuple = ()


def map_spans(fn, shared: tuple, spans: list, workers: int) -> list:
    """``[fn(shared, span) for span in spans]``, in ``workers`` forked processes when more
    than one (``fn`` a module-level function). The large arguments ``shared`` reach the
    workers by inheritance (they are forked after it is set), so only each span (e.g.
    ``(start, stop)`` rows) and the results are pickled, not the take's arrays."""
    global _SHARED
    if workers <= 1 or len(spans) <= 1:
        return [fn(shared, span) for span in spans]
    _SHARED = shared
    try:
        with ProcessPoolExecutor(workers, mp_context=get_context("fork")) as pool:
            return list(pool.map(_shared_call, [fn] * len(spans), spans,
                                 chunksize=max(1, len(spans) // (4 * workers))))
    finally:
        _SHARED = ()


def _shared_call(fn, span):
    return fn(_SHARED, span)


def beside(fn, *args) -> Callable[[], object]:
    """Start ``fn(*args)`` in a forked process where a second CPU can run it (else run it here,
    now); returns a function that waits for it and gives its result, or raises its exception
    (``fn`` returns a small picklable value: the arrays stay in both processes' memory and are
    never sent). Call the returned function exactly once."""
    if fork_workers(2) < 2:
        try:
            value = fn(*args)
        except Exception as exc:             # raised where the caller asks for the result
            return _raiser(exc)
        return lambda: value
    ctx = get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_run_and_send, args=(send, fn, args), daemon=True)
    child.start()
    send.close()

    def result():
        try:
            ok, value = recv.recv()
        except EOFError:                     # the child died without a word (killed)
            child.join()
            raise RuntimeError(f"{getattr(fn, '__name__', fn)}: its process ended with exit "
                               f"status {child.exitcode} and no result") from None
        finally:
            recv.close()
        child.join()
        if not ok:
            raise value
        return value
    return result


def _raiser(exc: BaseException) -> Callable[[], object]:
    def result():
        raise exc
    return result


def _run_and_send(send, fn, args) -> None:
    """The child of :func:`beside`: ``fn(*args)`` sent as (True, value), or (False, the
    exception) (its traceback text attached as a note), then exit."""
    try:
        out = (True, fn(*args))
    except Exception as exc:                 # noqa: BLE001 - handed to the parent as is
        exc.add_note("in the process beside:\n" + traceback.format_exc())
        out = (False, exc)
    try:
        send.send(out)
    finally:
        send.close()
