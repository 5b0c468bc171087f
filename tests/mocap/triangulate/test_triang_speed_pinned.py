"""The robust path's faster numpy code gives what the old code gave, array for array: the
view-pair hypotheses scored by one matrix product with reused temporaries (the reference below
is the old ``robust_subset``), the swap test's costs (reference: the old cost), and the swap
test reading each detection's own error from the triangulation instead of computing it again
(the same numbers)."""
from __future__ import annotations

import numpy as np
import pytest

from mocap.settings import TriangulateSettings
from mocap.triangulate import triangulate_points
from mocap.triangulate.backend import take_along
from mocap.triangulate.dlt import (dlt_rig, feature_solve, features, pieces, residuals,
                                   solve_sym3)
from mocap.triangulate.robust import inlier_scores, pair_points, robust_subset, solve_refined
from mocap.triangulate.swaps import cross_errors, repair_swaps
from mocap.triangulate.undistort import undistort_detections


def robust_subset_reference(g, x, y, jac, conf, valid, scale, tau, pair_views, iters,
                            prior=None, prior_radius_m=0.0):
    """The old ``robust_subset`` (numpy), line for line."""
    xp = np
    m, v = pieces(g, x, y)
    feats = features(x, y)
    k = max(2, min(pair_views, conf.shape[0]))
    order = (-(conf * valid)).argsort(0)[:k]
    pi, pj = np.triu_indices(k, 1)
    ci, cj = order[pi], order[pj]
    wc = conf * valid
    wi = take_along(xp, wc, ci, 0) ** 2
    wj = take_along(xp, wc, cj, 0) ** 2
    mh = [take_along(xp, a, ci, 0) * wi + take_along(xp, a, cj, 0) * wj for a in m]
    vh = [take_along(xp, a, ci, 0) * wi + take_along(xp, a, cj, 0) * wj for a in v]
    Xh, det_h = solve_sym3(mh, vh)
    eh, zh = residuals(g.expand(1), Xh, x[:, None], y[:, None], [a[:, None] for a in jac])
    inl = valid[:, None] & (zh > 0) & (eh < tau)
    u = xp.where(inl, eh * (1.0 / tau), 1.0)
    score = (conf[:, None] * (1 - u * u)).sum(0)
    score = xp.where((det_h > 1e-12) & (wi > 0) & (wj > 0), score, -1.0)
    if prior is not None:
        d2 = sum((a - b[None]) ** 2 for a, b in zip(Xh, prior))
        far = (d2 > prior_radius_m ** 2) & xp.isfinite(prior[0])[None]
        score = xp.where(far, -1.0, score)
        valid = valid & ~(~(score.max(0) > 0))[None]
    best = score.argmax(0)[None]
    X = [take_along(xp, a, best, 0)[0] for a in Xh]
    err, z = residuals(g, X, x, y, jac)
    for _ in range(iters):
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.clip(err * (1.0 / tau), 0.0, 1.0)
            t = np.where(np.isfinite(t), t, 1.0)
            w = xp.where((z > 1e-6) & xp.isfinite(err), wc * (1 - t * t) ** 2 * scale / z, 0.0)
        enough = (w > 0).sum(0) >= 2
        X2, _ = feature_solve(g, feats, w * w)
        X = [xp.where(enough, a, b) for a, b in zip(X2, X)]
        err, z = residuals(g, X, x, y, jac)
    used = valid & (z > 0) & (err <= tau)
    X, det_rel, err, z = solve_refined(g, feats, x, y, jac, conf * used, scale, 1)
    used = used & (z > 0) & (err <= tau)
    return X, used, det_rel, err, z


@pytest.fixture(scope="module")
def hard_points(noisy_take, studio4):
    """The noisy take's detections with gross outliers, missing views and a point behind a
    camera, as the robust path takes them: views first (C, S)."""
    det = noisy_take.detections
    C = det.shape[0]
    rng = np.random.default_rng(11)
    xy = np.moveaxis(det.xy, 0, 3).reshape(-1, C, 2).copy()
    conf = np.moveaxis(det.conf, 0, 3).reshape(-1, C).astype(np.float64)
    bad = rng.random(conf.shape) < 0.15
    xy[bad] += rng.uniform(-300, 300, (int(bad.sum()), 2))
    conf[rng.random(conf.shape) < 0.1] = 0.0
    xy_n, jac = undistort_detections(studio4, xy)
    valid = (conf >= 0.2) & np.isfinite(xy_n).all(-1)
    T = lambda a: np.ascontiguousarray(a.T)  # noqa: E731
    x, y = T(np.where(valid[..., None], xy_n, 0.0)[..., 0]), T(np.where(valid[..., None], xy_n, 0.0)[..., 1])
    jc = [T(np.where(valid, jac[..., i, j], 0.0)) for i in (0, 1) for j in (0, 1)]
    scale = np.sqrt(np.abs(jc[0] * jc[3] - jc[1] * jc[2]))
    prior = noisy_take.gt_xyz.reshape(-1, 3) + rng.normal(0, 0.05, (len(conf), 3))
    prior[rng.random(len(conf)) < 0.3] = np.nan
    return x, y, jc, T(conf), T(valid), scale, [np.ascontiguousarray(prior[:, k]) for k in range(3)]


@pytest.mark.parametrize("with_prior", [False, True])
def test_robust_subset_equals_the_old_code(hard_points, studio4, with_prior):
    x, y, jc, conf, valid, scale, prior = hard_points
    g = dlt_rig(studio4.arrays())
    args = (g, x, y, jc, conf, valid, scale, 15.0, 6, 3, prior if with_prior else None, 0.15)
    got, ref = robust_subset(*args), robust_subset_reference(*args)
    for a, b in zip(got[0], ref[0]):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(got[1:], ref[1:]):
        np.testing.assert_array_equal(a, b)
    assert np.isfinite(got[0][0]).mean() > 0.8 and not got[1].all()


def test_hypotheses_and_their_scores_equal_the_old_code(hard_points, studio4):
    """The hypotheses' points and MSAC scores themselves (not only the point chosen)."""
    x, y, jc, conf, valid, scale, _ = hard_points
    g = dlt_rig(studio4.arrays())
    order = (-(conf * valid)).argsort(0)[:4]
    pi, pj = np.triu_indices(4, 1)
    ci, cj = order[pi], order[pj]
    wc = conf * valid
    Xh, det_h, wi, wj = pair_points(np, g, x, y, wc, (ci, cj))
    m, v = pieces(g, x, y)
    wi_ref, wj_ref = take_along(np, wc, ci, 0) ** 2, take_along(np, wc, cj, 0) ** 2
    gather = lambda a: take_along(np, a, ci, 0) * wi_ref + take_along(np, a, cj, 0) * wj_ref  # noqa: E731
    Xh_ref, det_ref = solve_sym3([gather(a) for a in m], [gather(a) for a in v])
    for a, b in zip(Xh + [det_h, wi, wj], Xh_ref + [det_ref, wi_ref, wj_ref]):
        np.testing.assert_array_equal(a, b)
    eh, zh = residuals(g.expand(1), Xh, x[:, None], y[:, None], [a[:, None] for a in jc])
    u = np.where(valid[:, None] & (zh > 0) & (eh < 15.0), eh * (1.0 / 15.0), 1.0)
    ref = (conf[:, None] * (1 - u * u)).sum(0)
    got = inlier_scores(np, g, Xh, x, y, jc, conf, valid, 15.0)
    np.testing.assert_array_equal(got, ref)
    assert (got > 0).mean() > 0.3 and (got == 0).any()


def repair_swaps_cost_reference(e, valid, l, r, cap):
    el = np.where(valid[..., l, :], np.minimum(np.nan_to_num(e[..., l, :], nan=cap), cap), 0)
    er = np.where(valid[..., r, :], np.minimum(np.nan_to_num(e[..., r, :], nan=cap), cap), 0)
    return el + er


def test_swap_costs_equal_the_old_code(rng):
    N, J, C, tau = 500, 25, 6, 15.0
    e_self = rng.gamma(1.0, 10.0, (N, J, C))
    e_cross = rng.gamma(2.0, 20.0, (N, J, C))
    for e in (e_self, e_cross):
        e[rng.random(e.shape) < 0.05] = np.nan
        e[rng.random(e.shape) < 0.02] = np.inf
    valid = rng.random((N, J, C)) < 0.9
    xyz = rng.normal(size=(N, J, 3))
    xyz[rng.random((N, J)) < 0.05] = np.nan
    pairs = np.array([(2, 5), (3, 6), (4, 7), (9, 12)])
    l, r = pairs[:, 0], pairs[:, 1]
    cur = repair_swaps_cost_reference(e_self, valid, l, r, 2 * tau)
    alt = repair_swaps_cost_reference(e_cross, valid, l, r, 2 * tau)
    known = np.isfinite(xyz).all(-1)
    ref = ((known[:, l] & known[:, r])[..., None] & (valid[:, l] | valid[:, r])
           & (cur > tau) & (alt < 0.5 * cur))
    got = repair_swaps(xyz, e_self, e_cross, valid, pairs, tau)
    np.testing.assert_array_equal(got, ref)
    assert got.any()


def test_triangulation_errors_are_the_swap_tests_own_errors(noisy_take, studio4):
    """Each used or unused detection's error against its own joint's point, as the
    triangulation returns it, is what ``cross_errors`` computes, bit for bit, wherever the
    detection is present and the point known (so the swap test reads it instead)."""
    det = noisy_take.detections
    C, F, P, J = det.shape
    xy = np.moveaxis(det.xy, 0, 3).reshape(-1, C, 2)
    conf = np.moveaxis(det.conf, 0, 3).reshape(-1, C).astype(np.float64)
    xy_n, jac = undistort_detections(studio4, xy)
    s = TriangulateSettings()
    res = triangulate_points(studio4, xy, conf, s, xy_n, jac)
    shp = lambda a: a.reshape((F * P, J) + a.shape[1:])  # noqa: E731
    e_self, e_cross = cross_errors(dlt_rig(studio4.arrays()), shp(res.xyz), shp(xy_n),
                                   shp(jac), det.keypoint_format.flip_permutation)
    _, e_cross2 = cross_errors(dlt_rig(studio4.arrays()), shp(res.xyz), shp(xy_n), shp(jac),
                               det.keypoint_format.flip_permutation, own=False)
    np.testing.assert_array_equal(e_cross2, e_cross)
    present = (conf >= s.min_conf) & (conf > 0) & np.isfinite(xy_n).all(-1)
    m = shp(present & np.isfinite(res.xyz).all(-1)[:, None])
    assert m.sum() > 1000
    np.testing.assert_array_equal(shp(res.err_px)[m], e_self[m])
