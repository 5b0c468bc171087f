"""The shared assignment is scipy's Hungarian, imported on first use only."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
from scipy.optimize import linear_sum_assignment

from mocap.associate.assignment import assignment


def test_assignment_is_the_hungarian():
    rng = np.random.default_rng(0)
    for shape in ((1, 1), (3, 3), (2, 5), (6, 4)):
        cost = rng.random(shape)
        for a, b in zip(assignment(cost), linear_sum_assignment(cost)):
            np.testing.assert_array_equal(a, b)


def test_association_and_triangulation_load_without_scipy_optimize():
    code = ("import sys, mocap.associate, mocap.triangulate, mocap.filter; "
            "print('scipy.optimize' in sys.modules, 'scipy.signal' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["False", "False"]


def _by_identity_reference(det, slot_identity, T):
    C, F, K, J = det.shape
    xy = np.full((C, F, T, J, 2), np.nan)
    conf = np.zeros((C, F, T, J), np.float32)
    c, f, k = np.nonzero(slot_identity >= 0)
    t = slot_identity[c, f, k]
    xy[c, f, t] = det.xy[c, f, k]
    conf[c, f, t] = det.conf[c, f, k]
    return xy, conf


def test_detections_by_identity_equals_the_scatter(crossing3):
    """Slots kept in the detector's order (the masked copy) and shuffled ones (the scatter)
    give what the scatter gave, bit for bit."""
    from mocap.associate.project import detections_by_identity
    det = crossing3.detections.replace(heatmaps=None, heatmap_affine=None)
    C, F, K, J = det.shape
    rng = np.random.default_rng(3)
    in_order = np.where(rng.random((C, F, K)) < 0.8, np.arange(K), -1)
    shuffled = np.stack([rng.permutation(K) for _ in range(C * F)]).reshape(C, F, K)
    shuffled[rng.random((C, F, K)) < 0.2] = -1
    for slots, T in ((in_order, K), (in_order[:, :, :2] , 2), (shuffled, K)):
        sub = det.replace(xy=det.xy[:, :, :slots.shape[2]], conf=det.conf[:, :, :slots.shape[2]])
        got = detections_by_identity(sub, slots, T)
        xy, conf = _by_identity_reference(sub, slots, T)
        np.testing.assert_array_equal(got.xy, xy)
        np.testing.assert_array_equal(got.conf, conf)
        assert got.conf.dtype == np.float32


def test_chunks_in_parallel_processes_give_the_serial_association(crowd4, studio4,
                                                                   monkeypatch):
    """Chunks associated in forked processes give what one process gives, array for array
    (several people entering and leaving, so the chunks' group counts differ)."""
    import sys

    import pytest

    import mocap.associate.solve as solve
    if not sys.platform.startswith("linux"):
        pytest.skip("workers are forked on Linux only")
    monkeypatch.setattr(solve, "_CHUNK_FRAMES", 16)
    serial = solve.associate_take(crowd4.detections, studio4)
    monkeypatch.setattr(solve, "PARALLEL_MIN_FRAMES", 0)
    monkeypatch.setattr(solve, "fork_workers", lambda jobs: 2)
    parallel = solve.associate_take(crowd4.detections, studio4)
    assert serial.num_groups >= 3
    for key in ("slots", "flipped", "xyz", "residual_m", "num_views", "joints"):
        np.testing.assert_array_equal(getattr(parallel, key), getattr(serial, key))
