"""Assembling a take from its cameras' files keeps memory bounded: heatmaps over the budget are
not read at all, and kept ones are read one camera at a time straight into the take's array."""
from __future__ import annotations

import tracemalloc

import numpy as np

from mocap.detect.assemble import assemble_detections
from mocap.types import save_npz

F, J, HW = 120, 17, (32, 32)


def _camera(path, P, seed):
    rng = np.random.default_rng(seed)
    hm = rng.random((F, P, J) + HW).astype(np.float16)
    aff = np.broadcast_to(np.array([[4.0, 0, 1], [0, 4.0, 2]]), (F, P, 2, 3)).copy()
    save_npz(path, xy=rng.random((F, P, J, 2)) * 100, conf=np.ones((F, P, J), np.float32),
             format=np.array("coco17"), heatmaps=hm, heatmap_affine=aff)
    return hm, aff


def _peak(fn):
    tracemalloc.start()
    try:
        out = fn()
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_heatmaps_over_the_budget_are_not_read(tmp_path, caplog):
    paths = [tmp_path / "a.npz", tmp_path / "b.npz"]
    for i, p in enumerate(paths):
        _camera(p, 1, i)
    one_camera = F * J * np.prod(HW) * 2                     # 4.2 MB of heatmaps each
    det, peak = _peak(lambda: assemble_detections(paths, ("a", "b"), 30.0, 0.001))
    assert det.heatmaps is None and det.xy.shape == (2, F, 1, J, 2)
    assert peak < 0.25 * one_camera, f"{peak / 1e6:.1f} MB allocated"
    assert "max_heatmap_gb" in caplog.text


def test_kept_heatmaps_are_read_into_the_takes_array(tmp_path):
    paths = [tmp_path / "a.npz", tmp_path / "b.npz"]
    hm_a, aff_a = _camera(paths[0], 2, 0)
    hm_b, aff_b = _camera(paths[1], 1, 1)                   # fewer slots: padded
    take = 2 * F * 2 * J * np.prod(HW) * 2
    det, peak = _peak(lambda: assemble_detections(paths, ("a", "b"), 30.0, 1.0))
    assert np.array_equal(det.heatmaps[0], hm_a) and np.array_equal(det.heatmaps[1, :, :1], hm_b)
    assert not det.heatmaps[1, :, 1].any()
    assert np.array_equal(det.heatmap_affine[1, :, 0], aff_b[:, 0])
    assert np.array_equal(det.heatmap_affine[1, :, 1], np.broadcast_to(np.eye(2, 3), (F, 2, 3)))
    assert peak < 1.5 * take, f"{peak / take:.2f} x the take's heatmaps allocated"
