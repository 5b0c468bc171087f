"""The triangulation's whole-take steps run in cache-sized blocks and give what the one-pass
code gave (the references below are the old code): the swap test's cross errors."""
from __future__ import annotations

import numpy as np
import pytest

from mocap.triangulate.dlt import dlt_rig, residuals
from mocap.triangulate.swaps import cross_errors, flip_views
from mocap.triangulate.undistort import undistort_detections


def cross_errors_reference(g, xyz, xy_n, jac, perm):
    N, J, C = xy_n.shape[:3]
    mv = lambda a: np.moveaxis(a, 2, 0).reshape(C, N * J)  # noqa: E731
    x, y = mv(xy_n[..., 0]), mv(xy_n[..., 1])
    jc = [mv(jac[..., i, j]) for i in (0, 1) for j in (0, 1)]
    out = []
    for pts in (xyz, xyz[:, perm]):
        X = [pts[..., k].reshape(N * J) for k in range(3)]
        with np.errstate(invalid="ignore"):
            e, _ = residuals(g, X, x, y, jc)
        out.append(np.moveaxis(e.reshape(C, N, J), 0, 2))
    return out[0], out[1]


@pytest.fixture(scope="module")
def take_rows(noisy_take, studio4):
    """The noisy take's detections as (F P, J, C, ...) rows with holes, and noisy 3D truth."""
    det = noisy_take.detections
    C, F, P, J = det.shape
    xy = np.moveaxis(det.xy, 0, 3).reshape(-1, C, 2)
    xy_n, jac = undistort_detections(studio4, xy)
    rng = np.random.default_rng(4)
    xyz = noisy_take.gt_xyz.reshape(F * P, J, 3) + rng.normal(0, 0.01, (F * P, J, 3))
    xyz[rng.random((F * P, J)) < 0.05] = np.nan
    return (xyz, xy_n.reshape(F * P, J, C, 2), jac.reshape(F * P, J, C, 2, 2),
            det.keypoint_format.flip_permutation)


@pytest.mark.parametrize("chunk", [7, 100, 1 << 20])
def test_cross_errors_in_blocks_equal_the_one_pass(take_rows, studio4, chunk):
    xyz, xy_n, jac, perm = take_rows
    g = dlt_rig(studio4.arrays())
    got = cross_errors(g, xyz, xy_n, jac, perm, chunk=chunk)
    ref = cross_errors_reference(g, xyz, xy_n, jac, perm)
    assert np.isnan(ref[0]).any() and np.isfinite(ref[0]).mean() > 0.5
    for a, b in zip(got, ref):
        np.testing.assert_array_equal(a, b)


def flip_views_reference(xy_n, jac, conf, swapped, pairs):
    xy_n, jac, conf = xy_n.copy(), jac.copy(), conf.copy()
    for k, (l, r) in enumerate(pairs):
        s = swapped[:, k]
        if not s.any():
            continue
        for a in (xy_n, jac, conf):
            al, ar = a[:, l].copy(), a[:, r].copy()
            a[:, l] = np.where(s.reshape(s.shape + (1,) * (a.ndim - 3)), ar, al)
            a[:, r] = np.where(s.reshape(s.shape + (1,) * (a.ndim - 3)), al, ar)
    return xy_n, jac, conf


def test_flip_views_on_the_swapped_rows_equals_the_whole_arrays(take_rows, noisy_take):
    xyz, xy_n, jac, _ = take_rows
    N, J, C = xy_n.shape[:3]
    conf = np.random.default_rng(6).random((N, J, C))
    pairs = np.array(noisy_take.detections.keypoint_format.lr_pairs, int)
    swapped = np.random.default_rng(7).random((N, len(pairs), C)) < 0.02
    swapped[:, 1] = False                                    # a pair swapped nowhere
    got = flip_views(xy_n, jac, conf, swapped, pairs)
    for a, b in zip(got, flip_views_reference(xy_n, jac, conf, swapped, pairs)):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(got[0], xy_n, equal_nan=True)   # something was relabelled


@pytest.mark.parametrize("chunk", [1, 50, 1 << 20])
def test_health_reprojection_in_blocks_equals_the_one_pass(noisy_take, studio4, chunk):
    from mocap.triangulate.health import reprojection_errors
    det = noisy_take.detections
    xyz = noisy_take.gt_xyz + np.random.default_rng(8).normal(0, 0.01, noisy_take.gt_xyz.shape)
    xyz[5] = np.nan
    cams = studio4.arrays()
    err, depth = reprojection_errors(cams, xyz, det.xy, chunk=chunk)
    proj, depth_ref = cams.project(xyz)
    np.testing.assert_array_equal(err, np.linalg.norm(proj - det.xy, axis=-1))
    np.testing.assert_array_equal(depth, depth_ref)


def temporal_reference_reference(xyz, half_window):
    from mocap.nanstats import nanmedian
    F = xyz.shape[0]
    stack = []
    for d in range(-half_window, half_window + 1):
        if d == 0:
            continue
        shifted = np.full_like(xyz, np.nan)
        if d > 0:
            shifted[:F - d] = xyz[d:]
        else:
            shifted[-d:] = xyz[:F + d]
        stack.append(shifted)
    return nanmedian(np.stack(stack), axis=0)


@pytest.mark.parametrize("half_window, chunk", [(1, 1), (2, 300), (3, 1 << 20), (5, 1000)])
def test_temporal_reference_in_blocks_equals_the_whole_take(noisy_take, half_window, chunk):
    from mocap.triangulate.take import temporal_reference
    rng = np.random.default_rng(9)
    xyz = noisy_take.gt_xyz + rng.normal(0, 0.01, noisy_take.gt_xyz.shape)
    xyz[rng.random(xyz.shape[:-1]) < 0.1] = np.nan
    xyz[10:20, :, 4] = np.nan                                   # a gap longer than the window
    got = temporal_reference(xyz, half_window, chunk=chunk)
    np.testing.assert_array_equal(got, temporal_reference_reference(xyz, half_window))


def test_blocks_in_parallel_processes_give_the_serial_triangulation(noisy_take, studio4,
                                                                    monkeypatch):
    """triangulate_points' blocks in forked processes give one process's result, array for
    array (with a prior: the temporal check's path)."""
    import sys

    import mocap.triangulate.points as points
    if not sys.platform.startswith("linux"):
        pytest.skip("workers are forked on Linux only")
    det = noisy_take.detections
    C = det.shape[0]
    xy = np.moveaxis(det.xy, 0, 3).reshape(-1, C, 2)
    conf = np.moveaxis(det.conf, 0, 3).reshape(-1, C).astype(np.float64)
    prior = noisy_take.gt_xyz.reshape(-1, 3).copy()
    prior[::3] = np.nan
    monkeypatch.setattr(points, "CHUNK", 97)
    serial = [points.triangulate_points(studio4, xy, conf, prior=p) for p in (None, prior)]
    monkeypatch.setattr(points, "PARALLEL_MIN_POINTS", 0)
    monkeypatch.setattr(points, "fork_workers", lambda jobs: 2)
    for p, ref in zip((None, prior), serial):
        got = points.triangulate_points(studio4, xy, conf, prior=p)
        for a, b in zip((got.xyz, got.used, got.err_px, got.mean_err_px, got.flags),
                        (ref.xyz, ref.used, ref.err_px, ref.mean_err_px, ref.flags)):
            np.testing.assert_array_equal(a, b)
