"""``mocap.parallel``: blocks in forked workers that inherit the arrays (``map_spans``) give
what one process gives; ``beside``: a step run in a forked process beside this one gives its result,
or raises its exception (with the child's traceback as a note), and runs here, in order, where
no second CPU can take it."""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest

from mocap import parallel
from mocap.errors import TriangulationError


def _stats(a: np.ndarray) -> dict:
    return {"pid": os.getpid(), "sum": float(a.sum()), "median": float(np.median(a))}


def _fails(a: np.ndarray) -> None:
    raise TriangulationError(f"nothing reconstructed among {a.size} values")


@pytest.fixture
def two_cpus(monkeypatch):
    if not sys.platform.startswith("linux"):
        pytest.skip("processes are forked on Linux only")
    monkeypatch.setattr(parallel, "fork_workers", lambda jobs: 2)


def test_result_comes_from_a_forked_process(two_cpus):
    a = np.random.default_rng(0).random(100_000)          # inherited, never pickled
    later = parallel.beside(_stats, a)
    here = float(np.median(a))
    got = later()
    assert got["pid"] != os.getpid()
    assert got["sum"] == float(a.sum()) and got["median"] == here


def test_exception_is_raised_in_the_caller_with_the_childs_traceback(two_cpus):
    later = parallel.beside(_fails, np.zeros(7))
    with pytest.raises(TriangulationError, match="nothing reconstructed among 7 values") as e:
        later()
    assert "_fails" in "".join(getattr(e.value, "__notes__", []))


def test_one_cpu_runs_it_here(monkeypatch):
    monkeypatch.setattr(parallel, "fork_workers", lambda jobs: 1)
    got = parallel.beside(_stats, np.arange(5.0))()
    assert got == {"pid": os.getpid(), "sum": 10.0, "median": 2.0}
    later = parallel.beside(_fails, np.zeros(3))               # raised when asked, not before
    with pytest.raises(TriangulationError):
        later()


def _rows_sum(shared, span):
    (a,) = shared
    return os.getpid(), float(a[span[0]:span[1]].sum())


def test_map_spans_hands_the_arrays_by_inheritance(two_cpus):
    """The workers read the shared array they inherited (only spans are sent) and give what
    one process gives, in order."""
    a = np.random.default_rng(1).random(10_000)
    spans = [(s, s + 1000) for s in range(0, 10_000, 1000)]
    got = parallel.map_spans(_rows_sum, (a,), spans, 2)
    assert [v for _, v in got] == [float(a[s:e].sum()) for s, e in spans]
    assert {p for p, _ in got} - {os.getpid()}                     # forked workers did it
    assert parallel.map_spans(_rows_sum, (a,), spans, 1) == [(os.getpid(), v) for _, v in got]
