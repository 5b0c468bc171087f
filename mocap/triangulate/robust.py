"""Robust view selection (scales with cameras, no exhaustive subsets).

A point whose all-view solution reprojects within its threshold in every view (per view,
pixels: :func:`mocap.triangulate.take.view_thresholds`) is
accepted at once; for the others, hypotheses are triangulated from pairs among the
``robust_pair_views`` most confident views, scored by confidence-weighted inliers (a truncated
quadratic, MSAC), the best is refined by iteratively reweighted least squares (Tukey weights)
and the final point is the weighted solution over its inlier views. Points with fewer than
``min_views`` agreeing views are NaN with no views used, never a guess.

Per-view arrays are views first, (C, S) (see :mod:`mocap.triangulate.dlt`).
"""
from __future__ import annotations

import numpy as np

from ..geometry.rays import ray_spread_deg
from .backend import index_of, ns, take_along
from .dlt import DltRig, feature_solve, features, pieces, residuals, solve_sym3, to_cameras

__all__ = ["solve_refined", "robust_subset", "narrow", "pair_points", "inlier_scores"]


def _tukey(e, tau):
    xp = ns(e)
    u = xp.clip(e * (1.0 / tau), 0.0, 1.0)
    u = xp.where(xp.isfinite(u), u, 1.0)
    return (1 - u * u) ** 2


def solve_refined(g: DltRig, feats, x, y, jac, w, scale, iters: int):
    """Weighted solve, then ``iters`` re-solves with weights ``(w * scale / depth)^2``.

    Args:
        feats: (4, C, N) :func:`features` of x, y (C, N); w: (C, N) view weights
        (confidence, 0 = unused); scale: (C, N) pixels per normalised unit. Returns X
        (3 arrays (N,)), det_rel (N,), err (C, N), depth (C, N).
    """
    xp = ns(w)
    X, det_rel = feature_solve(g, feats, w * w)
    for _ in range(iters):
        with np.errstate(all="ignore"):
            z = to_cameras(g, X)[2]                                      # depths only
            ww = xp.where(z > 1e-6, w * scale / z, 0.0)
        enough = (ww > 0).sum(0) >= 2
        X2, det2 = feature_solve(g, feats, ww * ww)
        X = [xp.where(enough, a, b) for a, b in zip(X2, X)]
        det_rel = xp.where(enough, det2, det_rel)
    err, z = residuals(g, X, x, y, jac)
    return X, det_rel, err, z


def _pair_hypotheses(xp, conf, valid, k: int):
    """(H, S) view indices i, j of the hypotheses: pairs among each point's k most confident
    valid views (conf, valid (C, S))."""
    C = conf.shape[0]
    k = max(2, min(k, C))
    order = (-(conf * valid)).argsort(0)[:k]                 # (k, S)
    pi, pj = np.triu_indices(k, 1)
    if xp is not np:
        pi = xp.as_tensor(pi, device=conf.device)
        pj = xp.as_tensor(pj, device=conf.device)
    return order[pi], order[pj]


def pair_points(xp, g: DltRig, x, y, wc, pairs):
    """The points of the view-pair hypotheses ``pairs`` = (ci, cj) (H, S): Xh (3 arrays
    (H, S)), det_rel (H, S) and the pair's squared weights wi, wj (H, S) (wc (C, S) the
    views' weights). numpy gathers by flat index (``take``: the same values as
    ``take_along_axis``, without building its index arrays for every piece)."""
    ci, cj = pairs
    m, v = pieces(g, x, y)
    if xp is np:
        col = np.arange(x.shape[1])
        fi, fj = ci * x.shape[1] + col, cj * x.shape[1] + col
        gi = lambda a: a.take(fi)  # noqa: E731
        gj = lambda a: a.take(fj)  # noqa: E731
    else:
        gi = lambda a: take_along(xp, a, ci, 0)  # noqa: E731
        gj = lambda a: take_along(xp, a, cj, 0)  # noqa: E731
    wi, wj = gi(wc) ** 2, gj(wc) ** 2
    Xh, det_h = solve_sym3([gi(a) * wi + gj(a) * wj for a in m],
                           [gi(a) * wi + gj(a) * wj for a in v])
    return Xh, det_h, wi, wj


def _to_cameras_into(g: DltRig, X, buf):
    """:func:`mocap.triangulate.dlt.to_cameras` (its broadcast sums, in the same order: the
    same numbers) written into ``buf`` (4 or more, C, *B): xc, yc, z = buf[:3], buf[3] a
    temporary."""
    tmp = buf[3]
    for k in range(3):
        out = buf[k]
        np.multiply(g.R[k][0], X[0], out=out)
        np.multiply(g.R[k][1], X[1], out=tmp)
        out += tmp
        np.multiply(g.R[k][2], X[2], out=tmp)
        out += tmp
        out += g.t[k]
    return buf[0], buf[1], buf[2]


def inlier_scores(xp, g: DltRig, Xh, x, y, jac, conf, valid, tau):
    """(H, S) MSAC score of each hypothesis point Xh (3 arrays (H, S)) over the views
    (x, y, jac, conf, valid (C, S)): ``sum conf (1 - (e / tau)^2)`` over its inliers (in
    front of the camera, error e < tau pixels; ``tau`` a number or (C, S) per view and point).
    numpy computes the old formulas' numbers in place, in a few reused (C, H, S) buffers (the
    largest arrays of the robust path)."""
    if getattr(tau, "ndim", 0) == 2:
        tau = tau[:, None]                                               # (C, 1, S)
    if xp is not np:
        eh, zh = residuals(g.expand(1), Xh, x[:, None], y[:, None], [a[:, None] for a in jac])
        inl = valid[:, None] & (zh > 0) & (eh < tau)                     # (C, H, S)
        u = xp.where(inl, eh * (1.0 / tau), 1.0)
        return (conf[:, None] * (1 - u * u)).sum(0)
    C, (H, S) = x.shape[0], Xh[0].shape
    with np.errstate(all="ignore"):             # unsolved hypotheses: inf/NaN, no inliers
        buf = np.empty((5, C, H, S))
        xc, yc, z = _to_cameras_into(g.expand(1), Xh, buf)
        tmp, e = buf[3], buf[4]
        np.divide(1.0, z, out=tmp)                                       # 1 / z
        xc *= tmp
        xc -= x[:, None]                                                 # dx
        yc *= tmp
        yc -= y[:, None]                                                 # dy
        np.multiply(jac[0][:, None], xc, out=e)
        e += np.multiply(jac[1][:, None], yc, out=tmp)
        ev = np.multiply(jac[2][:, None], xc, out=xc)
        ev += np.multiply(jac[3][:, None], yc, out=tmp)
        e *= e
        ev *= ev
        e += ev
        np.sqrt(e, out=e)
        out = ~((z > 0) & (e < tau) & valid[:, None])                  # not an inlier
    e *= 1.0 / tau
    np.copyto(e, 1.0, where=out)
    e *= e
    np.subtract(1, e, out=e)
    e *= conf[:, None]
    return e.sum(0)


def robust_subset(g, x, y, jac, conf, valid, scale, tau, pair_views, iters,
                  prior=None, prior_radius_m: float = 0.0):
    """Hypothesise-and-verify on points whose all-view solution failed (see module doc).

    Per-view arrays (C, S); ``prior``: optional 3 arrays (S,), a
    position each point is known to be near (NaN = none): hypotheses further than
    ``prior_radius_m`` from it are discarded; ``tau``: (C, S) each view's outlier threshold,
    pixels. Returns X (3 arrays (S,)), used (C, S),
    det_rel (S,), err (C, S), depth (C, S).
    """
    xp = ns(conf)
    feats = features(x, y)
    wc = conf * valid
    Xh, det_h, wi, wj = pair_points(xp, g, x, y, wc, _pair_hypotheses(xp, conf, valid,
                                                                       pair_views))
    score = inlier_scores(xp, g, Xh, x, y, jac, conf, valid, tau)
    score = xp.where((det_h > 1e-12) & (wi > 0) & (wj > 0), score, -1.0)
    if prior is not None:
        d2 = sum((a - b[None]) ** 2 for a, b in zip(Xh, prior))            # (H, S)
        far = (d2 > prior_radius_m ** 2) & xp.isfinite(prior[0])[None]
        score = xp.where(far, -1.0, score)
        none = ~(score.max(0) > 0) if xp is np else ~(score.max(0).values > 0)
        valid = valid & ~none[None]
    best = score.argmax(0)[None]                                          # (1, S)
    X = [take_along(xp, a, best, 0)[0] for a in Xh]
    err, z = residuals(g, X, x, y, jac)
    for _ in range(iters):
        with np.errstate(divide="ignore", invalid="ignore"):
            w = xp.where((z > 1e-6) & xp.isfinite(err), wc * _tukey(err, tau) * scale / z,
                         0.0)
        enough = (w > 0).sum(0) >= 2
        X2, _ = feature_solve(g, feats, w * w)
        X = [xp.where(enough, a, b) for a, b in zip(X2, X)]
        err, z = residuals(g, X, x, y, jac)
    used = valid & (z > 0) & (err <= tau)
    X, det_rel, err, z = solve_refined(g, feats, x, y, jac, conf * used, scale, 1)
    used = used & (z > 0) & (err <= tau)
    return X, used, det_rel, err, z


def narrow(xp, g, x, y, mask, cand, min_angle_deg: float):
    """(N,) bool: among ``cand`` points, those whose ``mask`` rays span < min_angle_deg."""
    out = xp.zeros_like(cand)
    if bool(cand.any()):
        ic = index_of(xp, cand)
        spread = ray_spread_deg(xp, g.R, x[:, ic], y[:, ic], mask[:, ic])
        out[ic] = 2 * spread < min_angle_deg
    return out
