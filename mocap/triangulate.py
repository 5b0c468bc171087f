"""Triangulation of 2D keypoints seen by calibrated cameras (the algebraic methods).

Conventions: world frame right-handed, Z up, metres; camera frame OpenCV, ``X_cam = R X + t``;
pixels with (0, 0) the centre of the top-left pixel. ``xy_n`` are undistorted *normalised*
image coordinates ``(x / z, y / z)``: lens distortion and intrinsics are removed before any
linear solve.

The linear solve. Each view c with normalised coordinates (x, y) gives two rows
``(x R2 - R0) X = t0 - x t2`` and ``(y R2 - R1) X = t1 - y t2`` (R_k the rows of
``R_cam_from_world``); their residuals are ``z (x - x_hat)``, ``z (y - y_hat)`` with z the
point's depth. Rows are weighted, the 3 x 3 normal equations are summed over views and solved
in closed form for every point at once. A second pass weights each view by
``conf * s / z`` (s = local pixels per normalised unit, z from the first pass), which turns
the algebraic residual into the confidence-weighted reprojection error in pixels (to first
order), so the result is close to the weighted maximum-likelihood point at the cost of one
more linear solve.

Per-view *pieces* ``m_c = a1 a1^T + a2 a2^T`` and ``v_c = a1 b1 + a2 b2`` are kept separately,
so the solution for any weighting or subset of views is ``solve(sum w_c m_c, sum w_c v_c)``:
this is how the robust path scores hypotheses from view pairs without recomputing rows.

Robust view selection (scales with cameras, no exhaustive subsets): a point whose all-view
solution reprojects within ``reproj_threshold_px`` in every view is accepted at once; for the
others, hypotheses are triangulated from pairs among the ``robust_pair_views`` most confident
views, scored by confidence-weighted inliers (a truncated quadratic, MSAC), the best is refined
by iteratively reweighted least squares (Tukey weights) and the final point is the weighted
solution over its inlier views. Points with fewer than ``min_views`` agreeing views are NaN
with no views used, never a guess.

Left/right swaps in one view are repaired by testing, per left/right pair and view, the swapped
labelling against the 3D points the other views agree on; swapped detections are relabelled
and the affected joints triangulated again.

Degenerate geometry is flagged (``FLAG_*`` bits in :attr:`Triangulation.flags`) and returned as
NaN: too few views, no consensus, (nearly) parallel rays (coincident or collinear cameras, a
point on a baseline) and points behind the cameras that saw them.

Every batched core function works on numpy arrays or torch tensors alike (the torch path runs
on a GPU when the tensors are there, and is differentiable).
"""
from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

import numpy as np

from calibration import Rig
from calibration.camera import distort_normalized, pixels_to_normalized

from .errors import TriangulationError
from .settings import TriangulateSettings
from .types import Detections2D, Points3D

log = logging.getLogger(__name__)

__all__ = ["FLAG_FEW_VIEWS", "FLAG_NO_CONSENSUS", "FLAG_PARALLEL_RAYS", "FLAG_BEHIND_CAMERA",
           "Triangulation", "TakeTriangulation", "dlt_weighted", "reprojection_errors",
           "undistort_detections", "triangulate_points", "triangulate_views", "repair_swaps",
           "select_main_person", "triangulate_take", "triangulate", "pick_device"]

FLAG_FEW_VIEWS = 1
"""Fewer than ``min_views`` cameras detected the joint."""
FLAG_NO_CONSENSUS = 2
"""Enough detections, but fewer than ``min_views`` of them agree on one point."""
FLAG_PARALLEL_RAYS = 4
"""The agreeing rays are (nearly) parallel: coincident or collinear cameras, depth unknown."""
FLAG_BEHIND_CAMERA = 8
"""The only solution lies behind a camera that saw the joint (cheirality violated)."""

_IJ = ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2))
_CHUNK = 16384  # points per chunk: keeps the (N, C) temporaries in cache


# ----------------------------------------------------------------------------- array namespace

def _ns(x):
    """numpy, or torch when ``x`` is a tensor (the batched functions accept either)."""
    if type(x).__module__.startswith("torch"):
        import torch
        return torch
    return np


def _take(xp, a, idx, axis: int):
    """``take_along_axis`` for numpy and torch."""
    if xp is np:
        return np.take_along_axis(a, idx, axis)
    return xp.take_along_dim(a, idx, dim=axis)


def pick_device(device: str = "auto"):
    """A torch device: ``"auto"`` takes the GPU when one is present, else the CPU."""
    import torch
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except RuntimeError as exc:
        raise TriangulationError(f"[triangulate] device {device!r} is not a torch device "
                                 f"({exc}); expected 'auto', 'cpu' or 'cuda[:N]'") from None


# ----------------------------------------------------------------------------- linear core

def _pieces(R, t, x, y):
    """Per-view pieces of the normal equations.

    Args:
        R: (C, 3, 3) ``R_cam_from_world``; t: (C, 3) ``t_cam_from_world``, metres.
        x, y: (..., C) undistorted normalised coordinates, finite (0 where unused).
    Returns:
        m: list of 6 (..., C) arrays, entries 00, 01, 02, 11, 12, 22 of ``a1 a1^T + a2 a2^T``;
        v: list of 3 (..., C) arrays, ``a1 b1 + a2 b2``.
    """
    a1 = [x * R[:, 2, k] - R[:, 0, k] for k in range(3)]
    a2 = [y * R[:, 2, k] - R[:, 1, k] for k in range(3)]
    b1 = t[:, 0] - x * t[:, 2]
    b2 = t[:, 1] - y * t[:, 2]
    m = [a1[i] * a1[j] + a2[i] * a2[j] for i, j in _IJ]
    v = [a1[i] * b1 + a2[i] * b2 for i in range(3)]
    return m, v


def _solve_sym3(m, v):
    """Solve the symmetric 3 x 3 systems ``M X = v`` in closed form (adjugate).

    Args:
        m: 6 arrays (...) of M's upper triangle (00, 01, 02, 11, 12, 22); v: 3 arrays (...).
    Returns:
        X: 3 arrays (...) (non-finite where M is singular) and ``det_rel`` (...), the
        determinant relative to ``(trace / 3)^3``: about 0 when the rays are parallel.
    """
    m00, m01, m02, m11, m12, m22 = m
    c00 = m11 * m22 - m12 * m12
    c01 = m02 * m12 - m01 * m22
    c02 = m01 * m12 - m02 * m11
    c11 = m00 * m22 - m02 * m02
    c12 = m01 * m02 - m00 * m12
    c22 = m00 * m11 - m01 * m01
    det = m00 * c00 + m01 * c01 + m02 * c02
    tr = (m00 + m11 + m22) / 3.0
    xp = _ns(det)
    with np.errstate(divide="ignore", invalid="ignore"):
        det_rel = det / (tr * tr * tr)
        inv = 1.0 / det
        X = [(c00 * v[0] + c01 * v[1] + c02 * v[2]) * inv,
             (c01 * v[0] + c11 * v[1] + c12 * v[2]) * inv,
             (c02 * v[0] + c12 * v[1] + c22 * v[2]) * inv]
    return X, xp.where(xp.isfinite(det_rel), det_rel, 0.0 * det_rel)


def _weighted_solve(m, v, w):
    """Solve with per-view weights ``w`` (..., C) on the pieces (weights on squared rows)."""
    return _solve_sym3([(w * a).sum(-1) for a in m], [(w * a).sum(-1) for a in v])


def _residuals(R, t, X, x, y, jac):
    """Reprojection residual in pixels (first order) and depth of points in every view.

    Args:
        X: 3 arrays (...) world points; x, y: (..., C) detections (normalised undistorted);
        jac: 4 arrays (..., C): d pixels / d normalised, entries 00, 01, 10, 11.
        ``X`` may have extra leading axes over ``x`` (hypotheses): X (..., H), x (..., 1, C).
    Returns:
        err (..., C) pixels (inf behind the camera, NaN where X is not finite) and depth
        (..., C) metres.
    """
    X0, X1, X2 = (a[..., None] for a in X)
    xc = R[:, 0, 0] * X0 + R[:, 0, 1] * X1 + R[:, 0, 2] * X2 + t[:, 0]
    yc = R[:, 1, 0] * X0 + R[:, 1, 1] * X1 + R[:, 1, 2] * X2 + t[:, 1]
    z = R[:, 2, 0] * X0 + R[:, 2, 1] * X1 + R[:, 2, 2] * X2 + t[:, 2]
    xp = _ns(z)
    with np.errstate(divide="ignore", invalid="ignore"):
        dx = xc / z - x
        dy = yc / z - y
    eu = jac[0] * dx + jac[1] * dy
    ev = jac[2] * dx + jac[3] * dy
    err = xp.sqrt(eu * eu + ev * ev)
    err = xp.where(z > 0, err, err * 0 + float("inf"))
    err = xp.where(xp.isfinite(z), err, err * float("nan"))
    return err, z


def dlt_weighted(Rt, xy_n, w):
    """Confidence-weighted linear triangulation (numpy or torch, differentiable).

    Args:
        Rt: (C, 3, 4) normalised projection matrices ``[R_cam_from_world | t]`` (no K).
        xy_n: (N, C, 2) undistorted normalised image coordinates (NaN allowed where w = 0).
        w: (N, C) non-negative weights (0 = view not used); rows are multiplied by w.
    Returns:
        (N, 3) world points, metres; NaN where fewer than two views have weight, or where the
        views' rays are (nearly) parallel, so the point is not determined.
    """
    xp = _ns(xy_n)
    on = w > 0
    x = xp.where(on, xy_n[..., 0], 0.0 * w)
    y = xp.where(on, xy_n[..., 1], 0.0 * w)
    m, v = _pieces(Rt[:, :, :3], Rt[:, :, 3], x, y)
    X, det_rel = _weighted_solve(m, v, w * w)
    X = xp.stack(X, -1)
    bad = (on.sum(-1) < 2) | ~(det_rel > 1e-12) | ~xp.isfinite(X).all(-1)
    return xp.where(bad[..., None], X * float("nan"), X)


def reprojection_errors(rig: Rig, X: np.ndarray, xy_px: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixel distance between each camera's projection of ``X`` (full lens model) and its
    detection.

    Args:
        X: (N, 3) world points. xy_px: (N, C, 2) detections, pixels.
    Returns:
        err (N, C) pixels (NaN where either is missing) and depth (N, C) metres.
    """
    err = np.full(xy_px.shape[:2], np.nan)
    depth = np.full(xy_px.shape[:2], np.nan)
    for c, cam in enumerate(rig):
        uv, z = cam.project(X, return_depth=True)
        err[:, c] = np.linalg.norm(uv - xy_px[:, c], axis=-1)
        depth[:, c] = z
    return err, depth


# ----------------------------------------------------------------------------- undistortion

@dataclass(frozen=True)
class _LensMap:
    """Undistorted normalised coordinates of one camera sampled on a pixel grid (state of the
    fast undistortion; built once per camera from the exact iterative inverse)."""

    origin_px: float
    step_px: float
    gx: np.ndarray   # (H, W) x_n at pixel (origin + step * col, origin + step * row)
    gy: np.ndarray


_MAP_STEP_PX = 16.0
_MAP_MARGIN_PX = 64.0
_FD_STEP = 1e-7


@functools.lru_cache(maxsize=64)
def _lens_map(K_bytes: bytes, dist_bytes: bytes, model: str, size_wh: tuple) -> _LensMap:
    from calibration.camera import undistort_normalized
    K = np.frombuffer(K_bytes).reshape(3, 3)
    dist = np.frombuffer(dist_bytes)
    w, h = size_wh
    o, s = -_MAP_MARGIN_PX, _MAP_STEP_PX
    us = o + s * np.arange(int(np.ceil((w + 2 * _MAP_MARGIN_PX) / s)) + 1)
    vs = o + s * np.arange(int(np.ceil((h + 2 * _MAP_MARGIN_PX) / s)) + 1)
    uu, vv = np.meshgrid(us, vs)
    xn = undistort_normalized(pixels_to_normalized(np.stack([uu, vv], -1), K), dist, model)
    return _LensMap(o, s, np.ascontiguousarray(xn[..., 0]), np.ascontiguousarray(xn[..., 1]))


def _camera_map(cam) -> _LensMap:
    return _lens_map(np.ascontiguousarray(cam.K, float).tobytes(),
                     np.ascontiguousarray(cam.dist, float).tobytes(), cam.model,
                     tuple(int(v) for v in cam.size_wh))


def _bilinear(lm: _LensMap, u: np.ndarray, v: np.ndarray):
    fu = (u - lm.origin_px) / lm.step_px
    fv = (v - lm.origin_px) / lm.step_px
    H, W = lm.gx.shape
    inside = (fu >= 0) & (fu <= W - 1) & (fv >= 0) & (fv <= H - 1)
    i0 = np.clip(np.floor(np.nan_to_num(fu)), 0, W - 2).astype(np.intp)
    j0 = np.clip(np.floor(np.nan_to_num(fv)), 0, H - 2).astype(np.intp)
    a = fu - i0
    b = fv - j0
    out = []
    for g in (lm.gx, lm.gy):
        g00, g01 = g[j0, i0], g[j0, i0 + 1]
        g10, g11 = g[j0 + 1, i0], g[j0 + 1, i0 + 1]
        out.append((1 - b) * ((1 - a) * g00 + a * g01) + b * ((1 - a) * g10 + a * g11))
    return out[0], out[1], inside


def _undistort_camera(cam, xy_px: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fast exact undistortion of one camera's pixels: a lookup on a 16 px grid, then one
    Newton step on the lens model (error about 1e-12 normalised, the exact inverse's own
    tolerance). Points off the grid, or where the lens has no inverse, go through the exact
    solver of :mod:`calibration` (NaN where none exists).

    Args:
        xy_px: (N, 2) pixels, NaN = missing.
    Returns:
        xy_n (N, 2) and jac (N, 2, 2) = d pixels / d xy_n at the point.
    """
    xd = pixels_to_normalized(xy_px, cam.K)
    x, y, inside = _bilinear(_camera_map(cam), xy_px[:, 0], xy_px[:, 1])
    slow = np.flatnonzero(~(inside & np.isfinite(x) & np.isfinite(y)) & np.isfinite(xd).all(-1))
    if slow.size:
        exact = cam.undistort_points(xy_px[slow])
        x[slow], y[slow] = exact[:, 0], exact[:, 1]
    p = np.stack([x, y], -1)
    f0 = distort_normalized(p, cam.dist, cam.model)
    fx = distort_normalized(p + [_FD_STEP, 0.0], cam.dist, cam.model)
    fy = distort_normalized(p + [0.0, _FD_STEP], cam.dist, cam.model)
    j00, j10 = (fx[:, 0] - f0[:, 0]) / _FD_STEP, (fx[:, 1] - f0[:, 1]) / _FD_STEP
    j01, j11 = (fy[:, 0] - f0[:, 0]) / _FD_STEP, (fy[:, 1] - f0[:, 1]) / _FD_STEP
    rx, ry = f0[:, 0] - xd[:, 0], f0[:, 1] - xd[:, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        det = j00 * j11 - j01 * j10
        x = x - (j11 * rx - j01 * ry) / det
        y = y - (-j10 * rx + j00 * ry) / det
    K = cam.K
    jac = np.empty((len(x), 2, 2))
    jac[:, 0, 0] = K[0, 0] * j00 + K[0, 1] * j10
    jac[:, 0, 1] = K[0, 0] * j01 + K[0, 1] * j11
    jac[:, 1, 0] = K[1, 1] * j10
    jac[:, 1, 1] = K[1, 1] * j11
    xy_n = np.stack([x, y], -1)
    bad = ~np.isfinite(xy_n).all(-1) | ~(det > 0)
    xy_n[bad] = np.nan
    return xy_n, jac


def undistort_detections(rig: Rig, xy_px: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Undistorted normalised coordinates of detections in every camera.

    Args:
        xy_px: (N, C, 2) pixels in the rig's camera order, NaN = missing.
    Returns:
        xy_n (N, C, 2) (NaN where missing or not invertible) and jac (N, C, 2, 2), the
        Jacobian d pixels / d xy_n at each detection (converts small normalised residuals to
        pixels).
    """
    N, C = xy_px.shape[:2]
    xy_n = np.empty((N, C, 2))
    jac = np.empty((N, C, 2, 2))
    for c, cam in enumerate(rig):
        xy_n[:, c], jac[:, c] = _undistort_camera(cam, np.asarray(xy_px[:, c], float))
    return xy_n, jac


# ----------------------------------------------------------------------------- robust solve

@dataclass(frozen=True)
class Triangulation:
    """Result of triangulating N points seen by C cameras.

    Attributes:
        xyz: (N, 3) world points, metres; NaN where no trustworthy point exists.
        used: (N, C) bool, the views the point rests on (none where xyz is NaN).
        err_px: (N, C) reprojection error of every detection against xyz, pixels (first order
            about the detection; NaN where missing, inf behind the camera).
        mean_err_px: (N,) mean error over the used views, pixels (NaN where xyz is NaN).
        flags: (N,) uint8, ``FLAG_*`` bits saying why a point is missing or doubtful.
    """

    xyz: np.ndarray
    used: np.ndarray
    err_px: np.ndarray
    mean_err_px: np.ndarray
    flags: np.ndarray


@dataclass(frozen=True)
class _Geometry:
    """The rig as arrays for the batched core (numpy or torch, same device)."""

    R: object      # (C, 3, 3)
    t: object      # (C, 3)
    centers: object  # (C, 3)


def _geometry(rig: Rig, xp, device=None) -> _Geometry:
    R = np.stack([c.R_cam_from_world for c in rig]).astype(float)
    t = np.stack([c.t_cam_from_world for c in rig]).astype(float)
    ctr = np.stack([c.center for c in rig]).astype(float)
    if xp is np:
        return _Geometry(R, t, ctr)
    return _Geometry(*(xp.as_tensor(a, dtype=xp.float64, device=device) for a in (R, t, ctr)))


def _tukey(e, tau):
    xp = _ns(e)
    u = xp.clip(e / tau, 0.0, 1.0)
    u = xp.where(xp.isfinite(u), u, u * 0 + 1.0)
    return (1 - u * u) ** 2


def _solve_refined(g: _Geometry, m, v, x, y, jac, w, scale, iters: int):
    """Weighted solve, then ``iters`` re-solves with weights ``(w * scale / depth)^2``.

    Args:
        w: (..., C) view weights (confidence, 0 = unused); scale: (..., C) pixels per
        normalised unit. Returns X (3 arrays), det_rel, err (..., C), depth (..., C).
    """
    xp = _ns(w)
    X, det_rel = _weighted_solve(m, v, w * w)
    err, z = _residuals(g.R, g.t, X, x, y, jac)
    for _ in range(iters):
        zz = xp.where(z > 1e-6, z, z * 0 + float("inf"))
        ww = w * scale / zz
        ww = xp.where(xp.isfinite(ww), ww, 0 * w)
        enough = ((ww > 0).sum(-1) >= 2)
        X2, det2 = _weighted_solve(m, v, ww * ww)
        X = [xp.where(enough, a, b) for a, b in zip(X2, X)]
        det_rel = xp.where(enough, det2, det_rel)
        err, z = _residuals(g.R, g.t, X, x, y, jac)
    return X, det_rel, err, z


def _pair_hypotheses(xp, conf, valid, k: int):
    """(S, H) view indices i, j of the hypotheses: pairs among each point's k most confident
    valid views."""
    C = conf.shape[-1]
    k = max(2, min(k, C))
    order = (-(conf * valid)).argsort(-1)[..., :k]          # (S, k)
    pi, pj = np.triu_indices(k, 1)
    if xp is not np:
        pi = xp.as_tensor(pi, device=conf.device)
        pj = xp.as_tensor(pj, device=conf.device)
    return order[..., pi], order[..., pj]


def _robust_subset(g, m, v, x, y, jac, conf, valid, scale, tau, min_views, pair_views, iters):
    """Hypothesise-and-verify on points whose all-view solution failed (see module doc).

    All arrays (S, C) (pieces: lists of (S, C)); returns X (3 arrays (S,)), used (S, C),
    det_rel (S,), err (S, C), depth (S, C).
    """
    xp = _ns(conf)
    ci, cj = _pair_hypotheses(xp, conf, valid, pair_views)   # (S, H)
    wi = _take(xp, conf * valid, ci, -1)
    wj = _take(xp, conf * valid, cj, -1)
    mh = [_take(xp, a, ci, -1) * wi ** 2 + _take(xp, a, cj, -1) * wj ** 2 for a in m]
    vh = [_take(xp, a, ci, -1) * wi ** 2 + _take(xp, a, cj, -1) * wj ** 2 for a in v]
    Xh, det_h = _solve_sym3(mh, vh)                                     # (S, H)
    eh, zh = _residuals(g.R, g.t, Xh, x[:, None], y[:, None], [a[:, None] for a in jac])
    inl = valid[:, None] & (zh > 0) & (eh < tau)
    u = xp.where(inl, eh / tau, 0 * eh + 1.0)
    score = (conf[:, None] * xp.where(inl, 1 - u * u, 0 * u)).sum(-1)
    score = xp.where((det_h > 1e-12) & (wi > 0) & (wj > 0), score, score * 0 - 1.0)
    best = score.argmax(-1)
    X = [_take(xp, a, best[:, None], -1)[:, 0] for a in Xh]
    err, z = _residuals(g.R, g.t, X, x, y, jac)
    for _ in range(iters):
        w = conf * valid * _tukey(err, tau)
        zz = xp.where(z > 1e-6, z, z * 0 + float("inf"))
        w = xp.where((z > 0) & xp.isfinite(err), w * scale / zz, 0 * w)
        enough = (w > 0).sum(-1) >= 2
        X2, _ = _weighted_solve(m, v, w * w)
        X = [xp.where(enough, a, b) for a, b in zip(X2, X)]
        err, z = _residuals(g.R, g.t, X, x, y, jac)
    used = valid & (z > 0) & (err <= tau)
    X, det_rel, err, z = _solve_refined(g, m, v, x, y, jac, conf * used, scale, 1)
    used = used & (z > 0) & (err <= tau)
    return X, used, det_rel, err, z


def _ray_spread_deg(xp, X, centers, used):
    """Largest angle (degrees) between a used view's ray and the mean used ray, (S,)."""
    d = [X[k][..., None] - centers[:, k] for k in range(3)]               # 3 x (S, C)
    n = xp.sqrt(d[0] ** 2 + d[1] ** 2 + d[2] ** 2)
    u = [xp.where(used, a / n, 0 * a) for a in d]
    mean = [a.sum(-1) for a in u]
    mn = xp.sqrt(mean[0] ** 2 + mean[1] ** 2 + mean[2] ** 2)
    cosang = sum(u[k] * (mean[k] / mn)[..., None] for k in range(3))
    cosang = xp.where(used, cosang, 0 * cosang + 1.0)
    return xp.rad2deg(xp.arccos(xp.clip(cosang.min(-1), -1.0, 1.0)))


def _triangulate_chunk(g, x, y, jac, conf, valid, s: TriangulateSettings, robust: bool):
    """Triangulate one chunk (component layout); returns X (3 arrays), used, err, flags."""
    xp = _ns(conf)
    x = xp.where(valid, x, 0 * x)
    y = xp.where(valid, y, 0 * y)
    jac = [xp.where(valid, a, 0 * a) for a in jac]
    scale = xp.sqrt(xp.abs(jac[0] * jac[3] - jac[1] * jac[2]))
    m, v = _pieces(g.R, g.t, x, y)
    w = conf * valid
    X, det_rel, err, z = _solve_refined(g, m, v, x, y, jac, w, scale, s.refine_iterations)
    nvalid = valid.sum(-1)
    good = valid & (z > 0) & (err <= s.reproj_threshold_px)
    used = valid
    if robust:
        redo = ((good != valid).any(-1) | ~(det_rel > 1e-12)) & (nvalid >= 2)
        used = valid & ~redo[:, None]
        idx = xp.nonzero(redo)[0] if xp is np else xp.nonzero(redo)[:, 0]
        if len(idx):
            sub = lambda a: a[idx]  # noqa: E731
            Xr, ur, dr, er, zr = _robust_subset(
                g, [sub(a) for a in m], [sub(a) for a in v], sub(x), sub(y),
                [sub(a) for a in jac], sub(conf), sub(valid), sub(scale),
                s.reproj_threshold_px, s.min_views, s.robust_pair_views, s.robust_iterations)
            X = [a.clone() if xp is not np else a.copy() for a in X]
            for a, b in zip(X, Xr):
                a[idx] = b
            used = used.clone() if xp is not np else used.copy()
            err, z, det_rel = (a.clone() if xp is not np else a.copy() for a in (err, z, det_rel))
            used[idx], err[idx], z[idx], det_rel[idx] = ur, er, zr, dr
    flags = xp.zeros_like(nvalid)
    nused = used.sum(-1)
    few = nvalid < s.min_views
    flags = flags + few * FLAG_FEW_VIEWS
    flags = flags + (~few & (nused < s.min_views)) * FLAG_NO_CONSENSUS
    finite = xp.isfinite(X[0]) & xp.isfinite(X[1]) & xp.isfinite(X[2])
    parallel = ~few & (nused >= 2) & (~(det_rel > 1e-12) | ~finite)
    Xs = [xp.where(finite, a, 0 * a) for a in X]
    spread = _ray_spread_deg(xp, Xs, g.centers, used & finite[:, None])
    parallel = parallel | (~few & (nused >= 2) & finite & (2 * spread < s.min_ray_angle_deg))
    flags = flags + parallel * FLAG_PARALLEL_RAYS
    behind = ~few & (nused < s.min_views) & (valid & ~(z > 0)).any(-1)
    flags = flags + behind * FLAG_BEHIND_CAMERA
    ok = ~few & (nused >= s.min_views) & ~parallel & finite
    X = [xp.where(ok, a, a * float("nan")) for a in X]
    used = used & ok[:, None]
    return X, used, err, flags


def triangulate_points(rig: Rig, xy_px: np.ndarray, conf: np.ndarray,
                       settings: TriangulateSettings = TriangulateSettings(),
                       xy_n: "np.ndarray | None" = None, jac: "np.ndarray | None" = None,
                       robust: "bool | None" = None) -> Triangulation:
    """Triangulate a batch of points (numpy or torch path, chosen by ``settings.backend``).

    Args:
        rig: the calibrated cameras (C of them).
        xy_px: (N, C, 2) detections in pixels, rig order, NaN = missing.
        conf: (N, C) confidences in [0, 1]; detections below ``settings.min_conf`` are ignored.
        xy_n, jac: optional precomputed :func:`undistort_detections` of ``xy_px``.
        robust: override ``settings.view_selection == "robust"``.
    Returns:
        :class:`Triangulation` (numpy arrays whatever the backend).
    """
    xy_px = np.asarray(xy_px, float)
    conf = np.asarray(conf, float)
    N, C = conf.shape if conf.ndim == 2 else (None, None)
    if conf.ndim != 2 or xy_px.shape != (N, C, 2) or C != len(rig):
        raise TriangulationError(
            f"detections have shape {xy_px.shape} and confidences {conf.shape} for "
            f"{len(rig)} cameras; expected (N, {len(rig)}, 2) and (N, {len(rig)})")
    _check_settings(settings)
    if xy_n is None or jac is None:
        xy_n, jac = undistort_detections(rig, xy_px)
    robust = settings.view_selection == "robust" if robust is None else robust
    valid = (conf >= settings.min_conf) & (conf > 0) & np.isfinite(xy_n).all(-1)
    if settings.backend == "torch":
        return _run_torch(rig, xy_n, jac, conf, valid, settings, robust)
    g = _geometry(rig, np)
    out = _empty_result(N, C)
    for a in range(0, N, _CHUNK):
        b = min(N, a + _CHUNK)
        X, used, err, flags = _triangulate_chunk(
            g, xy_n[a:b, :, 0], xy_n[a:b, :, 1], [jac[a:b, :, i, j] for i in (0, 1) for j in (0, 1)],
            conf[a:b], valid[a:b], settings, robust)
        _store(out, a, b, np.stack(X, -1), used, err, flags)
    return _finish(out, valid)


def _run_torch(rig, xy_n, jac, conf, valid, settings, robust) -> Triangulation:
    import torch
    dev = pick_device(settings.device)
    g = _geometry(rig, torch, dev)
    N, C = conf.shape
    out = _empty_result(N, C)
    chunk = 1 << 20 if dev.type == "cuda" else _CHUNK
    T = lambda a: torch.as_tensor(np.ascontiguousarray(a), device=dev)  # noqa: E731
    with torch.no_grad():
        for a in range(0, N, chunk):
            b = min(N, a + chunk)
            X, used, err, flags = _triangulate_chunk(
                g, T(xy_n[a:b, :, 0]), T(xy_n[a:b, :, 1]),
                [T(jac[a:b, :, i, j]) for i in (0, 1) for j in (0, 1)], T(conf[a:b]),
                T(valid[a:b]), settings, robust)
            _store(out, a, b, torch.stack(X, -1).cpu().numpy(), used.cpu().numpy(),
                   err.cpu().numpy(), flags.cpu().numpy())
    return _finish(out, valid)


def _empty_result(N, C) -> dict:
    return dict(xyz=np.full((N, 3), np.nan), used=np.zeros((N, C), bool),
                err=np.full((N, C), np.nan), flags=np.zeros(N, np.uint8))


def _store(out, a, b, X, used, err, flags) -> None:
    out["xyz"][a:b], out["used"][a:b], out["err"][a:b] = X, used, err
    out["flags"][a:b] = flags


def _finish(out, valid) -> Triangulation:
    err = np.where(valid, out["err"], np.nan)
    used = out["used"]
    n = used.sum(-1)
    with np.errstate(invalid="ignore"):
        mean = np.where(n > 0, np.where(used, err, 0).sum(-1) / np.maximum(n, 1), np.nan)
    return Triangulation(xyz=out["xyz"], used=used, err_px=err, mean_err_px=mean,
                         flags=out["flags"])


def _check_settings(s: TriangulateSettings) -> None:
    checks = [("method", s.method, ("algebraic", "volumetric")),
              ("view_selection", s.view_selection, ("all", "robust")),
              ("backend", s.backend, ("numpy", "torch"))]
    for key, value, allowed in checks:
        if value not in allowed:
            raise TriangulationError(f"[triangulate] {key} = {value!r}; expected one of "
                                     f"{', '.join(repr(a) for a in allowed)}")
    if s.min_views < 2:
        raise TriangulationError(f"[triangulate] min_views = {s.min_views}; expected >= 2")
    if not s.reproj_threshold_px > 0:
        raise TriangulationError(f"[triangulate] reproj_threshold_px = "
                                 f"{s.reproj_threshold_px}; expected > 0")


def triangulate_views(rig: Rig, xy_px: np.ndarray, conf: np.ndarray, min_conf: float = 0.2,
                      min_views: int = 2, reproj_threshold_px: float = 15.0,
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Robust triangulation of a batch of points (the short form of :func:`triangulate_points`).

    Args:
        xy_px: (N, C, 2) pixels in the rig's camera order, NaN = missing. conf: (N, C).
    Returns:
        X (N, 3) metres (NaN where not enough consistent views), used (N, C) bool,
        err (N,) mean reprojection error over the used views, pixels.
    """
    s = TriangulateSettings(min_conf=min_conf, min_views=min_views,
                            reproj_threshold_px=reproj_threshold_px)
    r = triangulate_points(rig, xy_px, conf, s)
    return r.xyz, r.used, r.mean_err_px


# ----------------------------------------------------------------------------- left/right swaps

def repair_swaps(xyz: np.ndarray, err_self: np.ndarray, err_cross: np.ndarray,
                 valid: np.ndarray, lr_pairs, tau_px: float, ratio: float = 0.5) -> np.ndarray:
    """Decide which left/right pairs are swapped in which view.

    For a pair (l, r) in view c the current labelling costs ``min(e(l->X_l), 2 tau) +
    min(e(r->X_r), 2 tau)`` over the detections present, the swapped one the same with
    ``X_l`` and ``X_r`` exchanged. A pair is swapped when the current labelling is
    inconsistent (cost above ``tau``) and the swapped one costs less than ``ratio`` times it.

    Args:
        xyz: (..., J, 3) the 3D points the views agree on (NaN = unknown).
        err_self: (..., J, C) pixels, each detection against its own joint's point.
        err_cross: (..., J, C) pixels, each detection against its mirror joint's point.
        valid: (..., J, C) bool, detections present.
        lr_pairs: (K, 2) (left index, right index).
    Returns:
        (..., K, C) bool, True where the pair is swapped in that view.
    """
    pairs = np.asarray(lr_pairs, int).reshape(-1, 2)
    l, r = pairs[:, 0], pairs[:, 1]
    known = np.isfinite(xyz).all(-1)
    both = (known[..., l] & known[..., r])[..., None]
    cap = 2.0 * tau_px

    def cost(e, jl, jr):
        el = np.where(valid[..., jl, :], np.minimum(np.nan_to_num(e[..., jl, :], nan=cap), cap), 0)
        er = np.where(valid[..., jr, :], np.minimum(np.nan_to_num(e[..., jr, :], nan=cap), cap), 0)
        return el + er

    cur = cost(err_self, l, r)
    alt = cost(err_cross, l, r)
    seen = valid[..., l, :] | valid[..., r, :]
    return both & seen & (cur > tau_px) & (alt < ratio * cur)


def _cross_errors(rig_g: _Geometry, xyz, xy_n, jac, perm):
    """(N, J, C) errors of each detection against its own and against its mirror's point."""
    X = [xyz[..., k] for k in range(3)]
    Xm = [xyz[..., perm, k] for k in range(3)]
    x, y = xy_n[..., 0], xy_n[..., 1]
    jc = [jac[..., i, j] for i in (0, 1) for j in (0, 1)]
    with np.errstate(invalid="ignore"):
        e_self, _ = _residuals(rig_g.R, rig_g.t, X, x, y, jc)
        e_cross, _ = _residuals(rig_g.R, rig_g.t, Xm, x, y, jc)
    return e_self, e_cross


# ----------------------------------------------------------------------------- people

def select_main_person(det: Detections2D) -> Detections2D:
    """Keep one person per camera and frame: the *main* person, the one whose 2D skeleton has
    the largest bounding box (diagonal of the box around its detected joints) in that view.

    The rule is made for takes with one actor and bystanders further away (the Pose2Sim
    demo): the actor is the largest figure in every view. Multi-person association is a
    separate stage.

    Returns:
        Detections2D with P = 1 (heatmaps selected the same way when present).
    """
    C, F, P, J = det.shape
    seen = det.conf > 0
    with np.errstate(invalid="ignore"), _quiet():
        lo = np.nanmin(np.where(seen[..., None], det.xy, np.nan), axis=3)
        hi = np.nanmax(np.where(seen[..., None], det.xy, np.nan), axis=3)
    size = np.nan_to_num(np.linalg.norm(hi - lo, axis=-1), nan=-1.0)     # (C, F, P)
    pick = size.argmax(-1)[..., None]                                    # (C, F, 1)
    xy = np.take_along_axis(det.xy, pick[..., None, None], 2)
    conf = np.take_along_axis(det.conf, pick[..., None], 2)
    hm = aff = None
    if det.heatmaps is not None:
        hm = np.take_along_axis(det.heatmaps, pick[..., None, None, None], 2)
        aff = np.take_along_axis(det.heatmap_affine, pick[..., None, None], 2)
    return det.replace(xy=xy, conf=conf, heatmaps=hm, heatmap_affine=aff)


class _quiet:
    """Silence numpy's all-NaN warnings inside a block (they are expected there)."""

    def __enter__(self):
        import warnings
        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        self._w.__exit__(*exc)


# ----------------------------------------------------------------------------- a whole take

@dataclass(frozen=True)
class TakeTriangulation:
    """Triangulation of a take, with its diagnostics.

    Attributes:
        points: the 3D keypoints (F, P, J, 3) with views used and reprojection errors.
        flags: (F, P, J) uint8 ``FLAG_*`` bits.
        swapped: (F, P, K, C) bool: left/right pair k was found swapped in camera c and
            relabelled (K = the format's ``lr_pairs``).
        err_px: (F, P, J, C) reprojection error of every detection, pixels.
    """

    points: Points3D
    flags: np.ndarray
    swapped: np.ndarray
    err_px: np.ndarray


def _check_cameras(rig: Rig, det: Detections2D) -> None:
    if tuple(det.camera_names) != tuple(rig.names):
        raise TriangulationError(
            f"detections are for cameras {list(det.camera_names)}, the calibration has "
            f"{list(rig.names)}; expected the same cameras in the same order")


def _flip_views(xy_n, jac, conf, swapped, pairs):
    """Relabel swapped pairs: (N=F*P, J, C, ...) arrays, swapped (N, K, C)."""
    xy_n, jac, conf = xy_n.copy(), jac.copy(), conf.copy()
    for k, (l, r) in enumerate(pairs):
        s = swapped[:, k]                                                 # (N, C)
        if not s.any():
            continue
        for a in (xy_n, jac, conf):
            al, ar = a[:, l].copy(), a[:, r].copy()
            a[:, l] = np.where(s.reshape(s.shape + (1,) * (a.ndim - 3)), ar, al)
            a[:, r] = np.where(s.reshape(s.shape + (1,) * (a.ndim - 3)), al, ar)
    return xy_n, jac, conf


def triangulate_take(det: Detections2D, rig: Rig,
                     settings: TriangulateSettings = TriangulateSettings()) -> TakeTriangulation:
    """Algebraic triangulation of every frame, person and joint of a take, with swap repair.

    Returns:
        :class:`TakeTriangulation`; ``points.conf`` is the mean confidence of the views used.
    """
    _check_cameras(rig, det)
    _check_settings(settings)
    C, F, P, J = det.shape
    kf = det.keypoint_format
    xy = np.moveaxis(det.xy, 0, 3).reshape(-1, C, 2)
    conf = np.moveaxis(det.conf, 0, 3).reshape(-1, C).astype(np.float64)
    xy_n, jac = undistort_detections(rig, xy)
    res = triangulate_points(rig, xy, conf, settings, xy_n, jac)
    pairs = np.array(kf.lr_pairs, int).reshape(-1, 2)
    swapped = np.zeros((F * P, len(pairs), C), bool)
    if settings.repair_swaps and len(pairs) and settings.view_selection == "robust":
        valid = ((conf >= settings.min_conf) & (conf > 0) & np.isfinite(xy_n).all(-1))
        shp = lambda a: a.reshape((F * P, J) + a.shape[1:])  # noqa: E731
        e_self, e_cross = _cross_errors(_geometry(rig, np), shp(res.xyz), shp(xy_n), shp(jac),
                                        kf.flip_permutation)
        swapped = repair_swaps(shp(res.xyz), e_self, e_cross, shp(valid), pairs,
                               settings.reproj_threshold_px)
        if swapped.any():
            n_xy, n_jac, n_conf = _flip_views(shp(xy_n), shp(jac), shp(conf), swapped, pairs)
            redo = np.zeros((F * P, J), bool)
            hit = swapped.any(-1)                                        # (N, K)
            redo[:, pairs[:, 0]] |= hit
            redo[:, pairs[:, 1]] |= hit
            idx = np.flatnonzero(redo.ravel())
            flat = lambda a: a.reshape((F * P * J,) + a.shape[2:])  # noqa: E731
            xy_px = xy.copy()
            sub = triangulate_points(rig, xy_px[idx], flat(n_conf)[idx], settings,
                                     flat(n_xy)[idx], flat(n_jac)[idx])
            xyz, used, err = res.xyz.copy(), res.used.copy(), res.err_px.copy()
            mean, flags = res.mean_err_px.copy(), res.flags.copy()
            xyz[idx], used[idx], err[idx] = sub.xyz, sub.used, sub.err_px
            mean[idx], flags[idx] = sub.mean_err_px, sub.flags
            conf = flat(n_conf)
            res = Triangulation(xyz, used, err, mean, flags)
            log.info("repaired %d left/right swapped pairs (pair x view x frame)",
                     int(swapped.sum()))
    n_used = res.used.sum(-1)
    mean_conf = np.where(n_used > 0, (conf * res.used).sum(-1) / np.maximum(n_used, 1), 0.0)
    _log_flags(res)
    points = Points3D(xyz=res.xyz.reshape(F, P, J, 3),
                      conf=mean_conf.reshape(F, P, J).astype(np.float32),
                      joint_names=kf.joint_names, fps=det.fps, format=kf.name,
                      views_used=res.used.reshape(F, P, J, C),
                      reproj_err_px=res.mean_err_px.reshape(F, P, J).astype(np.float32),
                      camera_names=det.camera_names)
    return TakeTriangulation(points=points, flags=res.flags.reshape(F, P, J),
                             swapped=swapped.reshape(F, P, len(pairs), C),
                             err_px=res.err_px.reshape(F, P, J, C))


def _log_flags(res: Triangulation) -> None:
    n = len(res.flags)
    done = np.isfinite(res.xyz[:, 0]).sum()
    log.info("triangulated %d of %d joints (%.1f%%)", done, n, 100.0 * done / max(n, 1))
    for bit, what in ((FLAG_PARALLEL_RAYS, "have (nearly) parallel rays"),
                      (FLAG_BEHIND_CAMERA, "lie behind a camera that saw them"),
                      (FLAG_NO_CONSENSUS, "have no two agreeing views")):
        k = int(((res.flags & bit) > 0).sum())
        if k and bit != FLAG_NO_CONSENSUS:
            log.warning("%d joints %s: left missing (NaN)", k, what)
        elif k:
            log.info("%d joints %s: left missing (NaN)", k, what)


def triangulate(det: Detections2D, rig: Rig,
                settings: TriangulateSettings = TriangulateSettings()) -> Points3D:
    """Triangulate every frame, person and joint of a take (the pipeline's entry point).

    ``settings.method``: ``"algebraic"`` (robust weighted DLT, see the module doc) or
    ``"volumetric"`` (heatmaps unprojected into voxels, :mod:`mocap.volumetric`).

    Returns:
        Points3D with ``xyz`` (F, P, J, 3), ``conf`` = mean confidence of the views used,
        ``views_used`` (F, P, J, C) and ``reproj_err_px`` (F, P, J).
    """
    _check_settings(settings)
    if settings.method == "volumetric":
        from .volumetric import triangulate_volumetric
        return triangulate_volumetric(det, rig, settings)
    return triangulate_take(det, rig, settings).points
