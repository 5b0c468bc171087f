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

__all__ = ["solve_refined", "robust_subset", "narrow"]


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
    m, v = pieces(g, x, y)
    feats = features(x, y)
    ci, cj = _pair_hypotheses(xp, conf, valid, pair_views)   # (H, S)
    wc = conf * valid
    wi = take_along(xp, wc, ci, 0) ** 2
    wj = take_along(xp, wc, cj, 0) ** 2
    mh = [take_along(xp, a, ci, 0) * wi + take_along(xp, a, cj, 0) * wj for a in m]
    vh = [take_along(xp, a, ci, 0) * wi + take_along(xp, a, cj, 0) * wj for a in v]
    Xh, det_h = solve_sym3(mh, vh)                                     # (H, S)
    eh, zh = residuals(g.expand(1), Xh, x[:, None], y[:, None], [a[:, None] for a in jac])
    tau_h = tau[:, None]
    inl = valid[:, None] & (zh > 0) & (eh < tau_h)                       # (C, H, S)
    u = xp.where(inl, eh * (1.0 / tau_h), 1.0)
    score = (conf[:, None] * (1 - u * u)).sum(0)
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
