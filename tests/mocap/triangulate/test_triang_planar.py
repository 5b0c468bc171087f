"""The undistorted detections are views of one points-last array (no interleaving): the
take's triangulation (swap repair and temporal check included) is bit for bit what it was
with the old interleaved (N, C, 2) / (N, C, 2, 2) arrays, and the values are the lens's."""
from __future__ import annotations

import numpy as np

from mocap.settings import TriangulateSettings
from mocap.triangulate import take as take_module
from mocap.triangulate.take import triangulate_take
from mocap.triangulate.undistort import undistort_chunk, undistort_detections


def interleaved(rig, xy):
    """The old layout: contiguous (N, C, 2) and (N, C, 2, 2) copies."""
    xy_n, jac = undistort_detections(rig, xy)
    return np.ascontiguousarray(xy_n), np.ascontiguousarray(jac)


def test_undistorted_views_hold_the_lens_values(noisy_take, studio4):
    det = noisy_take.detections
    C = det.shape[0]
    xy = np.moveaxis(det.xy, 0, 3).reshape(-1, C, 2)
    xy_n, jac = undistort_detections(studio4, xy)
    assert xy_n.shape == (len(xy), C, 2) and jac.shape == (len(xy), C, 2, 2)
    x, y, j00, j01, j10, j11 = undistort_chunk(studio4, xy[:, :, 0].T.copy(), xy[:, :, 1].T.copy())
    np.testing.assert_array_equal(xy_n[..., 0], x.T)
    np.testing.assert_array_equal(xy_n[..., 1], y.T)
    np.testing.assert_array_equal(jac, np.stack([np.stack([j00, j01], -1),
                                                 np.stack([j10, j11], -1)], -2).transpose(1, 0, 2, 3))
    assert np.isfinite(xy_n).all(-1).mean() > 0.5


def test_take_triangulation_equals_the_interleaved_layout(noisy_take, studio4, monkeypatch):
    det = noisy_take.detections
    det = det.replace(xy=det.xy.copy())
    det.xy[1, 10:20, :, 4:8:3] = det.xy[1, 10:20, :, 7:3:-3]  # wrists swapped in a view
    s = TriangulateSettings()
    got = triangulate_take(det, studio4, s)
    monkeypatch.setattr(take_module, "undistort_detections", interleaved)
    ref = triangulate_take(det, studio4, s)
    for a, b in ((got.points.xyz, ref.points.xyz), (got.err_px, ref.err_px),
                 (got.points.views_used, ref.points.views_used), (got.swapped, ref.swapped),
                 (got.flags, ref.flags)):
        np.testing.assert_array_equal(a, b)
    assert np.isfinite(got.points.xyz).all(-1).mean() > 0.9 and got.swapped.any()
