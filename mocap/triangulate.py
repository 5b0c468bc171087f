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

import contextlib
import functools
import logging
from dataclasses import dataclass, replace

import numpy as np

from calibration import Rig
from calibration.camera import pixels_to_normalized

from .errors import TriangulationError
from .settings import TriangulateSettings
from .types import Detections2D, Points3D

log = logging.getLogger(__name__)

__all__ = ["FLAG_FEW_VIEWS", "FLAG_NO_CONSENSUS", "FLAG_PARALLEL_RAYS", "FLAG_BEHIND_CAMERA",
           "Triangulation", "TakeTriangulation", "dlt_weighted", "reprojection_errors",
           "lens_distort", "undistort_detections", "triangulate_points", "triangulate_views", "repair_swaps",
           "select_main_person", "temporal_reference", "triangulate_take", "triangulate",
           "pick_device"]

FLAG_FEW_VIEWS = 1
"""Fewer than ``min_views`` cameras detected the joint."""
FLAG_NO_CONSENSUS = 2
"""Enough detections, but fewer than ``min_views`` of them agree on one point."""
FLAG_PARALLEL_RAYS = 4
"""The agreeing rays are (nearly) parallel: coincident or collinear cameras, depth unknown."""
FLAG_BEHIND_CAMERA = 8
"""The only solution lies behind a camera that saw the joint (cheirality violated)."""

_IJ = ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2))
_CHUNK = 8192  # points per chunk: long enough to hide numpy's per-call cost, short enough for the cache


# ----------------------------------------------------------------------------- array namespace

def _ns(x):
    """numpy, or torch when ``x`` is a tensor (the batched functions accept either)."""
    if type(x).__module__.startswith("torch"):
        import torch
        return torch
    return np


def _full(a, value: float):
    """An array like ``a`` filled with ``value`` (``0 * a`` would keep a's NaNs)."""
    return _ns(a).full_like(a, value)


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
#
# Layout: per-view arrays are views-first, (C, *B) with B the batch axes, because numpy is
# fast when the innermost axis is long (the batch), and sums over views are then sums over
# rows. Camera constants are given as ``(C, 1, ..., 1)`` columns that broadcast against them.

@dataclass(frozen=True)
class _Geometry:
    """The rig as arrays for the batched core (numpy or torch, on one device).

    ``R[k][i]`` and ``t[k]`` are (C, 1) columns of ``R_cam_from_world`` and
    ``t_cam_from_world``; ``centers`` (C, 3) camera centres, world metres; ``normal`` the
    (9, 4 C) map of :func:`_normal_map`, ``Rs`` (3 C, 3) and ``ts`` (3 C, 1) the rotations and
    translations stacked (rows x of every camera, then y, then z) to move points into all
    cameras by one matrix product (None where only the columns are needed).
    """

    R: tuple
    t: tuple
    centers: object
    normal: object = None
    Rs: object = None
    ts: object = None

    def expand(self, extra: int) -> "_Geometry":
        """The same columns with ``extra`` more singleton axes (for (C, H, S) batches)."""
        if extra == 0:
            return self
        sh = lambda a: a.reshape(a.shape + (1,) * extra)  # noqa: E731
        return _Geometry(tuple(tuple(sh(r) for r in row) for row in self.R),
                         tuple(sh(a) for a in self.t), self.centers)


def _geometry_from_arrays(R, t, centers, normal=None) -> _Geometry:
    """R (C, 3, 3), t (C, 3), centers (C, 3) (numpy or torch) -> :class:`_Geometry`."""
    xp = _ns(R)
    Rs = xp.concatenate([R[:, k, :] for k in range(3)], 0)
    ts = xp.concatenate([t[:, k] for k in range(3)], 0)[:, None]
    return _Geometry(tuple(tuple(R[:, k, i][:, None] for i in range(3)) for k in range(3)),
                     tuple(t[:, k][:, None] for k in range(3)), centers, normal, Rs, ts)


def _to_cameras(g: _Geometry, X):
    """Points X (3 arrays (N,)) in every camera: xc, yc, z (C, N) (one matrix product; the
    columns of ``g`` broadcast when X has more axes, e.g. hypotheses (H, S))."""
    if g.Rs is not None and X[0].ndim == 1:
        xp = _ns(X[0])
        P = g.Rs @ xp.stack(X) + g.ts
        C = P.shape[0] // 3
        return P[:C], P[C:2 * C], P[2 * C:]
    R, t = g.R, g.t
    X0, X1, X2 = X
    return (R[0][0] * X0 + R[0][1] * X1 + R[0][2] * X2 + t[0],
            R[1][0] * X0 + R[1][1] * X1 + R[1][2] * X2 + t[1],
            R[2][0] * X0 + R[2][1] * X1 + R[2][2] * X2 + t[2])


def _geometry(rig: Rig, xp=np, device=None) -> _Geometry:
    R = np.stack([c.R_cam_from_world for c in rig]).astype(float)
    t = np.stack([c.t_cam_from_world for c in rig]).astype(float)
    ctr = np.stack([c.center for c in rig]).astype(float)
    G = _normal_map(R, t)
    if xp is not np:
        R, t, ctr, G = (xp.as_tensor(a, dtype=xp.float64, device=device) for a in (R, t, ctr, G))
    return _geometry_from_arrays(R, t, ctr, G)


def _outer6(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(C, 6) entries 00, 01, 02, 11, 12, 22 of the outer products ``a_c b_c^T`` (a, b (C, 3))."""
    return np.stack([a[:, i] * b[:, j] for i, j in _IJ], -1)


def _normal_map(R: np.ndarray, t: np.ndarray) -> np.ndarray:
    """The normal equations of the DLT as a linear map of per-view features.

    A view with normalised detection (x, y) adds ``a1 a1^T + a2 a2^T`` to M and ``a1 b1 +
    a2 b2`` to v (see :func:`_pieces`); both are linear in the features ``(1, x, y, x^2 +
    y^2)`` with coefficients fixed by the camera. So for all points at once, with the
    weighted features ``F`` (4 C, N) (row ``f * C + c``: feature f of view c times its
    weight), ``G @ F`` (9, N) holds M's 6 upper entries and v: one matrix product.

    Args:
        R: (C, 3, 3) ``R_cam_from_world``; t: (C, 3) ``t_cam_from_world``, metres.
    Returns:
        G (9, 4 C).
    """
    R0, R1, R2 = R[:, 0], R[:, 1], R[:, 2]
    t0, t1, t2 = (t[:, k:k + 1] for k in range(3))
    M = (_outer6(R0, R0) + _outer6(R1, R1), -(_outer6(R2, R0) + _outer6(R0, R2)),
         -(_outer6(R2, R1) + _outer6(R1, R2)), _outer6(R2, R2))
    v = (-(t0 * R0 + t1 * R1), t0 * R2 + t2 * R0, t1 * R2 + t2 * R1, -t2 * R2)
    return np.concatenate([np.concatenate([m, b], -1) for m, b in zip(M, v)], 0).T.copy()


def _features(x, y):
    """(4, C, *B) features ``(1, x, y, x^2 + y^2)`` of normalised detections x, y (C, *B)."""
    xp = _ns(x)
    return xp.stack([_full(x, 1.0), x, y, x * x + y * y])


def _feature_solve(g: _Geometry, feats, w2):
    """Solve the normal equations with squared view weights ``w2`` (C, N) through
    :func:`_normal_map`: feats (4, C, N) from :func:`_features`. Returns as
    :func:`_solve_sym3`."""
    F = (w2[None] * feats).reshape(-1, w2.shape[-1])
    out = g.normal @ F
    return _solve_sym3([out[k] for k in range(6)], [out[k] for k in range(6, 9)])


def _pieces(g: _Geometry, x, y):
    """Per-view pieces of the normal equations.

    Args:
        x, y: (C, *B) undistorted normalised coordinates, finite (0 where unused).
    Returns:
        m: 6 arrays (C, *B), entries 00, 01, 02, 11, 12, 22 of ``a1 a1^T + a2 a2^T``;
        v: 3 arrays (C, *B), ``a1 b1 + a2 b2``.
    """
    R, t = g.R, g.t
    a1 = [x * R[2][k] - R[0][k] for k in range(3)]
    a2 = [y * R[2][k] - R[1][k] for k in range(3)]
    b1 = t[0] - x * t[2]
    b2 = t[1] - y * t[2]
    m = [a1[i] * a1[j] + a2[i] * a2[j] for i, j in _IJ]
    v = [a1[i] * b1 + a2[i] * b2 for i in range(3)]
    return m, v


def _solve_sym3(m, v):
    """Solve the symmetric 3 x 3 systems ``M X = v`` in closed form (adjugate).

    Args:
        m: 6 arrays (*B) of M's upper triangle (00, 01, 02, 11, 12, 22); v: 3 arrays (*B).
    Returns:
        X: 3 arrays (*B) (non-finite where M is singular) and ``det_rel`` (*B), the
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
    tr = (m00 + m11 + m22) * (1.0 / 3.0)
    xp = _ns(det)
    with np.errstate(divide="ignore", invalid="ignore"):
        det_rel = det / (tr * tr * tr)
        inv = 1.0 / det
        X = [(c00 * v[0] + c01 * v[1] + c02 * v[2]) * inv,
             (c01 * v[0] + c11 * v[1] + c12 * v[2]) * inv,
             (c02 * v[0] + c12 * v[1] + c22 * v[2]) * inv]
    return X, xp.where(xp.isfinite(det_rel), det_rel, 0.0)


def _weighted_solve(m, v, w):
    """Solve with view weights ``w`` (C, *B) on the pieces (weights of squared rows)."""
    return _solve_sym3([(w * a).sum(0) for a in m], [(w * a).sum(0) for a in v])


def _residuals(g: _Geometry, X, x, y, jac):
    """Reprojection residual in pixels (first order) and depth of points in every view.

    Args:
        X: 3 arrays (*B) world points; x, y: (C, *B) detections (normalised undistorted);
        jac: 4 arrays (C, *B): d pixels / d normalised, entries 00, 01, 10, 11. Any of them
        may broadcast (hypotheses: X (H, S) against x (C, 1, S) with ``g.expand(1)``).
    Returns:
        err (C, *B) pixels (inf behind the camera, NaN where X is not finite) and depth
        (C, *B) metres.
    """
    with np.errstate(all="ignore"):  # unsolved points are inf/NaN and stay so
        xc, yc, z = _to_cameras(g, X)
        iz = 1.0 / z
        dx = xc * iz - x
        dy = yc * iz - y
        eu = jac[0] * dx + jac[1] * dy
        ev = jac[2] * dx + jac[3] * dy
        err = (eu * eu + ev * ev) ** 0.5
    xp = _ns(z)
    err = xp.where(z > 0, err, float("inf"))
    err = xp.where(xp.isfinite(z), err, float("nan"))
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
    on = (w > 0).T
    wT = w.T
    x = xp.where(on, xy_n[..., 0].T, 0.0)
    y = xp.where(on, xy_n[..., 1].T, 0.0)
    g = _geometry_from_arrays(Rt[:, :, :3], Rt[:, :, 3], None)
    m, v = _pieces(g, x, y)
    X, det_rel = _weighted_solve(m, v, wT * wT)
    X = xp.stack(X, -1)
    bad = (on.sum(0) < 2) | ~(det_rel > 1e-12) | ~xp.isfinite(X).all(-1)
    return xp.where(bad[..., None], float("nan"), X)


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


# ----------------------------------------------------------------------------- lens model

def lens_distort(x, y, dist: np.ndarray, model: str = "pinhole"):
    """OpenCV lens model on normalised coordinates, with its Jacobian (numpy or torch).

    The same model as :func:`calibration.camera.distort_normalized` (checked against it in
    the tests), written on separate coordinate arrays so that it runs batched in numpy and
    torch alike.

    Args:
        x, y: (...) undistorted normalised coordinates, unitless.
        dist: (k,) coefficients, OpenCV order: pinhole ``(k1, k2, p1, p2[, k3[, k4, k5,
            k6]])``, fisheye ``(k1, k2, k3, k4)``.
    Returns:
        xd, yd (...) distorted normalised coordinates and the Jacobian entries
        ``(dxd/dx, dxd/dy, dyd/dx, dyd/dy)``.
    """
    xp = _ns(x)
    d = np.zeros(8)
    d[:len(dist)] = np.asarray(dist, float)
    d = [float(v) for v in d]  # Python floats: numpy scalars would turn tensors into arrays
    if model == "fisheye":
        k1, k2, k3, k4 = d[:4]
        r2 = x * x + y * y
        r = xp.sqrt(r2)
        th = xp.arctan(r)
        t2 = th * th
        thd = th * (1 + t2 * (k1 + t2 * (k2 + t2 * (k3 + t2 * k4))))
        dthd = 1 + t2 * (3 * k1 + t2 * (5 * k2 + t2 * (7 * k3 + t2 * 9 * k4)))
        small = r < 1e-12
        rs = xp.where(small, 1.0, r)
        scale = xp.where(small, 1.0, thd / rs)
        # d scale / d r, divided by r (finite as r -> 0, where it tends to a constant that
        # multiplies x^2 or xy and so vanishes).
        ds_r = xp.where(small, 0.0, (dthd / (1 + r2) - scale) / (rs * rs))
        return (x * scale, y * scale, scale + ds_r * x * x, ds_r * x * y, ds_r * x * y,
                scale + ds_r * y * y)
    return _pinhole_distort(x, y, d, bool(d[5] or d[6] or d[7]))


def _pinhole_distort(x, y, d, rational: bool):
    """OpenCV's pinhole lens on normalised coordinates and its Jacobian (see
    :func:`lens_distort`); ``d``: 8 coefficients (floats, or (C, 1) columns that broadcast
    against x, y (C, N)); ``rational``: whether k4..k6 may be non-zero."""
    k1, k2, p1, p2, k3, k4, k5, k6 = d
    xx, yy, xy = x * x, y * y, x * y
    r2 = xx + yy
    num = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
    dnum = k1 + r2 * (2 * k2 + (3 * k3) * r2)
    if rational:
        den = 1 + r2 * (k4 + r2 * (k5 + r2 * k6))
        dden = k4 + r2 * (2 * k5 + (3 * k6) * r2)
        radial = num / den
        drad = (dnum * den - num * dden) / (den * den)
    else:
        radial, drad = num, dnum
    # Shared pieces (p1, p2 may be columns: the products by constants fold into them).
    px, py, qx, qy = (2 * p1) * x, (2 * p1) * y, (2 * p2) * x, (2 * p2) * y
    xx2, yy2 = xx + xx, yy + yy
    xd = x * radial + px * y + p2 * (r2 + xx2)
    yd = y * radial + p1 * (r2 + yy2) + qx * y
    cross = (xy + xy) * drad + px + qy
    return (xd, yd, radial + xx2 * drad + py + 3 * qx, cross, cross,
            radial + yy2 * drad + 3 * py + qx)


# ----------------------------------------------------------------------------- undistortion

@dataclass(frozen=True)
class _LensMap:
    """Undistorted normalised coordinates of one camera sampled on a pixel grid (state of the
    fast undistortion; built once per camera from the exact iterative inverse)."""

    origin_px: float
    step_px: float
    width: int       # grid columns
    height: int      # grid rows
    grid: np.ndarray  # (rows * cols,) complex x_n + i y_n at pixel (origin + step * col,
                      # origin + step * row): one gather brings both
    certified: bool = False  # one Newton step from the lookup is exact everywhere on the grid


_MAP_STEPS_PX = (16.0, 8.0)  # grid steps tried in turn until one is certified
_MAP_MARGIN_PX = 64.0


@functools.lru_cache(maxsize=64)
def _lens_map(K_bytes: bytes, dist_bytes: bytes, model: str, size_wh: tuple) -> _LensMap:
    """The lookup map of a lens: the coarsest grid of ``_MAP_STEPS_PX`` that is certified
    (see :func:`_certify`), else the coarsest (then every point takes the general path)."""
    K = np.frombuffer(K_bytes).reshape(3, 3)
    dist = np.frombuffer(dist_bytes)
    first = None
    for step in _MAP_STEPS_PX:
        lm = _grid_map(K, dist, model, size_wh, step)
        if lm.certified:
            return lm
        first = first or lm
    return first


def _grid_map(K: np.ndarray, dist: np.ndarray, model: str, size_wh: tuple,
              step: float) -> _LensMap:
    from calibration.lens import undistort_normalized
    w, h = size_wh
    o, s = -_MAP_MARGIN_PX, step
    us = o + s * np.arange(int(np.ceil((w + 2 * _MAP_MARGIN_PX) / s)) + 1)
    vs = o + s * np.arange(int(np.ceil((h + 2 * _MAP_MARGIN_PX) / s)) + 1)
    uu, vv = np.meshgrid(us, vs)
    xn = undistort_normalized(pixels_to_normalized(np.stack([uu, vv], -1), K), dist, model)
    lm = _LensMap(o, s, len(us), len(vs), (xn[..., 0] + 1j * xn[..., 1]).ravel())
    return replace(lm, certified=_certify(lm, K, dist, model))


def _certify(lm: _LensMap, K: np.ndarray, dist: np.ndarray, model: str) -> bool:
    """Whether one Newton step from the bilinear lookup is exact (to about 1e-10, the square
    of the lookup's error) wherever a point can fall on the grid: every node has an inverse,
    the lookup is within ``_NEWTON_FAR / 2`` of the exact inverse at every cell's centre and
    edge midpoints (where bilinear interpolation is worst) and the lens's Jacobian
    determinant stays well positive (no fold nearby)."""
    from calibration.lens import undistort_normalized
    g = lm.grid.reshape(lm.height, lm.width)
    if not np.isfinite(g).all():
        return False
    o, s = lm.origin_px, lm.step_px
    fu, fv = np.meshgrid(np.arange(2 * lm.width - 2) / 2, np.arange(2 * lm.height - 2) / 2)
    half = (fu % 1 > 0) | (fv % 1 > 0)
    fu, fv = fu[half], fv[half]
    x, y, _, _ = _bilinear(lm, o + s * fu, o + s * fv)
    exact = undistort_normalized(pixels_to_normalized(np.stack([o + s * fu, o + s * fv], -1), K),
                                 dist, model)
    if not np.isfinite(exact).all():
        return False
    lookup_err = np.abs(x - exact[:, 0]) + np.abs(y - exact[:, 1])
    _, _, j00, j01, j10, j11 = lens_distort(exact[:, 0], exact[:, 1], dist, model)
    det = j00 * j11 - j01 * j10
    return bool(lookup_err.max() < _NEWTON_FAR / 2 and det.min() > 0.2)


def _camera_map(cam) -> _LensMap:
    return _lens_map(np.ascontiguousarray(cam.K, float).tobytes(),
                     np.ascontiguousarray(cam.dist, float).tobytes(), cam.model,
                     tuple(int(v) for v in cam.size_wh))


def _grid_coords(lm: _LensMap, u: np.ndarray, v: np.ndarray):
    """Pixels (N,) -> fractional grid column and row (N,)."""
    return (u - lm.origin_px) * (1.0 / lm.step_px), (v - lm.origin_px) * (1.0 / lm.step_px)


def _interpolate(lm: _LensMap, fu, fv, i0, j0, mode: str = "raise"):
    """Bilinear blend of the map in the cells (i0, j0) (N,) at fractional grid coordinates
    fu, fv (N,): z (N,) complex and the 4 corners (N,) (``mode`` as ``ndarray.take``)."""
    a = fu - i0
    b = fv - j0
    k = j0 * lm.width + i0
    kd = k + lm.width
    g = lm.grid
    corners = (g.take(k, mode=mode), g.take(k + 1, mode=mode), g.take(kd, mode=mode),
               g.take(kd + 1, mode=mode))
    g00, g01, g10, g11 = corners
    top = g00 + a * (g01 - g00)
    return top + b * (g10 + a * (g11 - g10) - top), corners


def _bilinear(lm: _LensMap, u: np.ndarray, v: np.ndarray):
    """Bilinear lookup of the map at pixels (u, v) (N,): x, y (N,), NaN off the grid or where
    none of the cell's corners has an inverse (beyond the fold of a strong lens: no inverse
    there either); where only some have one, the first of those (a rough start, ``rough``
    (N,) bool). Returns x, y, out (N,) bool (off the grid), rough."""
    fu, fv = _grid_coords(lm, u, v)
    # fmax/fmin send NaN to the edge, so every index is valid; moved points are not inside.
    cu = np.fmin(np.fmax(fu, 0.0), lm.width - 1.000001)
    cv = np.fmin(np.fmax(fv, 0.0), lm.height - 1.000001)
    z, (g00, g01, g10, g11) = _interpolate(lm, cu, cv, cu.astype(np.intp), cv.astype(np.intp))
    x, y = z.real.copy(), z.imag.copy()
    out = (cu != fu) | (cv != fv)
    if out.any():
        x[out] = np.nan
        y[out] = np.nan
    rough = np.zeros(x.shape, bool)
    lost = np.flatnonzero(np.isnan(x) & ~out)
    if lost.size:
        seed = np.full(lost.size, np.nan + 0j)
        for g in (g11, g10, g01, g00):          # the last assignment wins: g00 first
            seed = np.where(np.isnan(g[lost]), seed, g[lost])
        x[lost], y[lost] = seed.real, seed.imag
        rough[lost] = ~np.isnan(seed)
    return x, y, out, rough


def _certified_lookup(lm: _LensMap, u: np.ndarray, v: np.ndarray):
    """Bilinear lookup for a certified map when every finite pixel (u, v) (N,) lies on the
    grid: x, y (N,) (NaN where u or v is), else None (the general path then runs). No
    per-point tests: NaN pixels carry NaN through the interpolation weights."""
    fu, fv = _grid_coords(lm, u, v)
    lo_u, hi_u, lo_v, hi_v = (np.fmin.reduce(fu), np.fmax.reduce(fu), np.fmin.reduce(fv),
                              np.fmax.reduce(fv))      # NaN-ignoring
    if not (lo_u >= 0 and lo_v >= 0 and hi_u < lm.width - 1 and hi_v < lm.height - 1):
        return None
    with np.errstate(invalid="ignore"):       # NaN -> some integer, clipped by take below
        i0 = fu.astype(np.intp)
        j0 = fv.astype(np.intp)
    z, _ = _interpolate(lm, fu, fv, i0, j0, mode="clip")
    return z.real, z.imag


def _undistort_camera(cam, u: np.ndarray, v: np.ndarray):
    """Exact undistortion of one camera's pixels: a lookup on a 16 px grid, then one Newton
    step on the lens model (error about 1e-12 normalised, the exact solver's own tolerance),
    more steps for the points the lookup left further off. Points off the grid, and points
    next to the fold of a strong lens where Newton fails, go through the exact solver of
    :mod:`calibration` (NaN where the lens has no inverse there).

    Args:
        u, v: (N,) pixels, NaN = missing.
    Returns:
        x, y (N,) undistorted normalised coordinates and the 4 entries (N,) of the Jacobian
        d pixels / d (x, y) at the point.
    """
    K = cam.K
    fx, fy = float(K[0, 0]), float(K[1, 1])
    yd = (v - float(K[1, 2])) * (1.0 / fy)
    xd = (u - float(K[0, 2])) * (1.0 / fx)     # a Camera's K has no skew
    if cam.model == "pinhole" and not np.any(cam.dist):
        one, zero = np.ones_like(u), np.zeros_like(u)
        return xd, yd, fx * one, zero, zero, fy * one
    lm = _camera_map(cam)
    if lm.certified:
        fast = _certified_lookup(lm, u, v)
        if fast is not None:                    # every point on the grid: one Newton step
            x, y = fast
            dx, dy, j00, j01, j10, j11 = lens_distort(x, y, cam.dist, cam.model)
            rx, ry = dx - xd, dy - yd
            inv = 1.0 / (j00 * j11 - j01 * j10)
            return (x - (j11 * rx - j01 * ry) * inv, y - (j00 * ry - j10 * rx) * inv,
                    fx * j00, fx * j01, fy * j10, fy * j11)
    x, y, out, rough = _bilinear(lm, u, v)
    slow = np.flatnonzero(out & np.isfinite(u) & np.isfinite(v))
    if slow.size:                               # off the grid: the exact solver
        exact = cam.undistort_points(np.stack([u[slow], v[slow]], -1))
        x[slow], y[slow] = exact[:, 0], exact[:, 1]
    dx, dy, j00, j01, j10, j11 = lens_distort(x, y, cam.dist, cam.model)
    rx, ry = dx - xd, dy - yd
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / (j00 * j11 - j01 * j10)
        sx = (j11 * rx - j01 * ry) * inv
        sy = (j00 * ry - j10 * rx) * inv
        x = x - sx
        y = y - sy
        bad = ~(inv > 0)
        far = np.flatnonzero((np.abs(sx) + np.abs(sy) > _NEWTON_FAR) & ~bad)
    if far.size:
        x[far], y[far], ok, jf = _newton_steps(
            lambda a, b: lens_distort(a, b, cam.dist, cam.model), x[far], y[far], xd[far], yd[far])
        bad[far] |= ~ok
        for j, f in zip((j00, j01, j10, j11), jf):
            j[far] = f
    retry = np.flatnonzero(bad & rough)             # next to the fold, Newton lost its way
    if retry.size:
        exact = cam.undistort_points(np.stack([u[retry], v[retry]], -1))
        x[retry], y[retry] = exact[:, 0], exact[:, 1]
        ok = np.isfinite(exact[:, 0])
        _, _, *jr = lens_distort(exact[ok, 0], exact[ok, 1], cam.dist, cam.model)
        for j, f in zip((j00, j01, j10, j11), jr):
            j[retry[ok]] = f
        bad[retry] = ~ok
    x[bad] = np.nan
    y[bad] = np.nan
    return x, y, fx * j00, fx * j01, fy * j10, fy * j11


#: Newton step (normalised units) beyond which a point takes more steps: after a step s the
#: error is about s^2 times the lens curvature, below 4e-11 (2e-8 px) for s < 1e-5 on the
#: studio rigs and a strong wide-angle lens alike.
_NEWTON_FAR = 1e-5


def _newton_steps(distort, x, y, xd, yd, steps: int = 8):
    """Newton iterations inverting a lens: ``distort(x, y)`` -> (xd, yd, 4 Jacobian entries)
    as :func:`lens_distort`; x, y (S,) start, xd, yd (S,) distorted targets. Returns x, y,
    ok (S,) (converged to 1e-14, the lens invertible there) and the Jacobian (4 arrays)."""
    for _ in range(steps):
        dx, dy, j00, j01, j10, j11 = distort(x, y)
        rx, ry = dx - xd, dy - yd
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = 1.0 / (j00 * j11 - j01 * j10)
            x = x - (j11 * rx - j01 * ry) * inv
            y = y - (j00 * ry - j10 * rx) * inv
            ok = (inv > 0) & (np.abs(rx) + np.abs(ry) < 1e-14)
        if ok.all():
            break
    return x, y, ok, (j00, j01, j10, j11)


def _undistort_chunk(rig: Rig, u: np.ndarray, v: np.ndarray):
    """(C, N) pixel coordinates -> x, y (C, N) and the 4 Jacobian entries (C, N)."""
    cols = [_undistort_camera(cam, u[c], v[c]) for c, cam in enumerate(rig)]
    return [np.stack([col[k] for col in cols]) for k in range(6)]


def undistort_detections(rig: Rig, xy_px: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Undistorted normalised coordinates of detections in every camera.

    Args:
        xy_px: (N, C, 2) pixels in the rig's camera order, NaN = missing.
    Returns:
        xy_n (N, C, 2) (NaN where missing or not invertible) and jac (N, C, 2, 2), the
        Jacobian d pixels / d xy_n at each detection (converts small normalised residuals to
        pixels).
    """
    xy_px = np.asarray(xy_px, float)
    N, C = xy_px.shape[:2]
    xy_n = np.empty((N, C, 2))
    jac = np.empty((N, C, 2, 2))
    for a in range(0, N, _CHUNK):
        b = min(N, a + _CHUNK)
        x, y, j00, j01, j10, j11 = _undistort_chunk(rig, xy_px[a:b, :, 0].T.copy(),
                                                    xy_px[a:b, :, 1].T.copy())
        xy_n[a:b, :, 0], xy_n[a:b, :, 1] = x.T, y.T
        jac[a:b, :, 0, 0], jac[a:b, :, 0, 1], jac[a:b, :, 1, 0], jac[a:b, :, 1, 1] = \
            j00.T, j01.T, j10.T, j11.T
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


def _tukey(e, tau):
    xp = _ns(e)
    u = xp.clip(e * (1.0 / tau), 0.0, 1.0)
    u = xp.where(xp.isfinite(u), u, 1.0)
    return (1 - u * u) ** 2


def _solve_refined(g: _Geometry, feats, x, y, jac, w, scale, iters: int):
    """Weighted solve, then ``iters`` re-solves with weights ``(w * scale / depth)^2``.

    Args:
        feats: (4, C, N) :func:`_features` of x, y (C, N); w: (C, N) view weights
        (confidence, 0 = unused); scale: (C, N) pixels per normalised unit. Returns X
        (3 arrays (N,)), det_rel (N,), err (C, N), depth (C, N).
    """
    xp = _ns(w)
    X, det_rel = _feature_solve(g, feats, w * w)
    for _ in range(iters):
        with np.errstate(all="ignore"):
            z = _to_cameras(g, X)[2]                                      # depths only
            ww = xp.where(z > 1e-6, w * scale / z, 0.0)
        enough = (ww > 0).sum(0) >= 2
        X2, det2 = _feature_solve(g, feats, ww * ww)
        X = [xp.where(enough, a, b) for a, b in zip(X2, X)]
        det_rel = xp.where(enough, det2, det_rel)
    err, z = _residuals(g, X, x, y, jac)
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


def _robust_subset(g, x, y, jac, conf, valid, scale, tau, pair_views, iters,
                   prior=None, prior_radius_m: float = 0.0):
    """Hypothesise-and-verify on points whose all-view solution failed (see module doc).

    Per-view arrays (C, S); ``prior``: optional 3 arrays (S,), a
    position each point is known to be near (NaN = none): hypotheses further than
    ``prior_radius_m`` from it are discarded. Returns X (3 arrays (S,)), used (C, S),
    det_rel (S,), err (C, S), depth (C, S).
    """
    xp = _ns(conf)
    m, v = _pieces(g, x, y)
    feats = _features(x, y)
    ci, cj = _pair_hypotheses(xp, conf, valid, pair_views)   # (H, S)
    wc = conf * valid
    wi = _take(xp, wc, ci, 0) ** 2
    wj = _take(xp, wc, cj, 0) ** 2
    mh = [_take(xp, a, ci, 0) * wi + _take(xp, a, cj, 0) * wj for a in m]
    vh = [_take(xp, a, ci, 0) * wi + _take(xp, a, cj, 0) * wj for a in v]
    Xh, det_h = _solve_sym3(mh, vh)                                     # (H, S)
    eh, zh = _residuals(g.expand(1), Xh, x[:, None], y[:, None], [a[:, None] for a in jac])
    inl = valid[:, None] & (zh > 0) & (eh < tau)                         # (C, H, S)
    u = xp.where(inl, eh * (1.0 / tau), 1.0)
    score = (conf[:, None] * (1 - u * u)).sum(0)
    score = xp.where((det_h > 1e-12) & (wi > 0) & (wj > 0), score, -1.0)
    if prior is not None:
        d2 = sum((a - b[None]) ** 2 for a, b in zip(Xh, prior))            # (H, S)
        far = (d2 > prior_radius_m ** 2) & xp.isfinite(prior[0])[None]
        score = xp.where(far, -1.0, score)
        none = ~(score.max(0) > 0) if xp is np else ~(score.max(0).values > 0)
        valid = valid & ~none[None]
    best = score.argmax(0)[None]                                          # (1, S)
    X = [_take(xp, a, best, 0)[0] for a in Xh]
    err, z = _residuals(g, X, x, y, jac)
    for _ in range(iters):
        with np.errstate(divide="ignore", invalid="ignore"):
            w = xp.where((z > 1e-6) & xp.isfinite(err), wc * _tukey(err, tau) * scale / z,
                         0.0)
        enough = (w > 0).sum(0) >= 2
        X2, _ = _feature_solve(g, feats, w * w)
        X = [xp.where(enough, a, b) for a, b in zip(X2, X)]
        err, z = _residuals(g, X, x, y, jac)
    used = valid & (z > 0) & (err <= tau)
    X, det_rel, err, z = _solve_refined(g, feats, x, y, jac, conf * used, scale, 1)
    used = used & (z > 0) & (err <= tau)
    return X, used, det_rel, err, z


def _ray_spread_deg(xp, g: _Geometry, x, y, used):
    """Largest angle (degrees) between a used view's ray and the mean used ray direction.

    x, y: (C, S) normalised detections; used (C, S). Returns (S,) (0 with < 2 views). The
    rays' directions alone decide whether depth is determined, wherever the cameras are.
    """
    R = g.R
    d = [R[0][k] * x + R[1][k] * y + R[2][k] for k in range(3)]          # R^T (x, y, 1)
    n = xp.sqrt(d[0] ** 2 + d[1] ** 2 + d[2] ** 2)
    u = [xp.where(used, a / n, 0.0) for a in d]
    mean = [a.sum(0) for a in u]
    mn = xp.sqrt(mean[0] ** 2 + mean[1] ** 2 + mean[2] ** 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        cosang = sum(u[k] * (mean[k] / mn)[None] for k in range(3))
    cosang = xp.where(used, cosang, 1.0)
    lo = cosang.min(0) if xp is np else cosang.min(0).values
    return xp.rad2deg(xp.arccos(xp.clip(lo, -1.0, 1.0)))


def _narrow(xp, g, x, y, mask, cand, min_angle_deg: float):
    """(N,) bool: among ``cand`` points, those whose ``mask`` rays span < min_angle_deg."""
    out = xp.zeros_like(cand)
    if bool(cand.any()):
        ic = _index(xp, cand)
        spread = _ray_spread_deg(xp, g, x[:, ic], y[:, ic], mask[:, ic])
        out[ic] = 2 * spread < min_angle_deg
    return out


def _copy(a):
    return a.copy() if isinstance(a, np.ndarray) else a.clone()


def _index(xp, mask):
    return np.flatnonzero(mask) if xp is np else xp.nonzero(mask)[:, 0]


def _triangulate_chunk(g, x, y, jac, conf, valid, s: TriangulateSettings, robust: bool,
                       prior=None):
    """Triangulate one chunk, views first: x, y, jac entries, conf, valid (C, N).

    Returns X (3 arrays (N,)), used (C, N), err (C, N) pixels, flags (N,).
    """
    xp = _ns(conf)
    if not bool(valid.all()):                   # unused views: finite zeros, weight 0
        x = xp.where(valid, x, 0.0)
        y = xp.where(valid, y, 0.0)
        jac = [xp.where(valid, a, 0.0) for a in jac]
    scale = xp.sqrt(xp.abs(jac[0] * jac[3] - jac[1] * jac[2]))
    w = conf * valid
    X, det_rel, err, z = _solve_refined(g, _features(x, y), x, y, jac, w, scale,
                                        s.refine_iterations)
    nvalid = valid.sum(0)
    used = valid
    # Every detected ray (nearly) parallel: nothing to choose from. Narrow ray bundles have a
    # small relative determinant (about 0.84 sin^2 of the angle for two equal views), so only
    # those candidates get the exact ray-spread test.
    all_parallel = _narrow(xp, g, x, y, valid, (nvalid >= 2) & ~(det_rel > 0.05),
                           s.min_ray_angle_deg)
    if robust:
        good = valid & (z > 0) & (err <= s.reproj_threshold_px)
        redo = ((good != valid).any(0) | ~(det_rel > 1e-12)) & (nvalid >= 2)
        if prior is not None:
            redo = redo | (xp.isfinite(prior[0]) & (nvalid >= 2))
        idx = _index(xp, redo)
        if len(idx):
            used = used & ~redo[None]
            sub = lambda a: a[:, idx]  # noqa: E731
            Xr, ur, dr, er, zr = _robust_subset(
                g, sub(x), sub(y),
                [sub(a) for a in jac], sub(conf), sub(valid), sub(scale),
                s.reproj_threshold_px, s.robust_pair_views, s.robust_iterations,
                None if prior is None else [a[idx] for a in prior], s.temporal_radius_m)
            X, err, z, det_rel = [_copy(a) for a in X], _copy(err), _copy(z), _copy(det_rel)
            for a, b in zip(X, Xr):
                a[idx] = b
            used[:, idx], err[:, idx], z[:, idx], det_rel[idx] = ur, er, zr, dr
    nused = used.sum(0)
    few = nvalid < s.min_views
    finite = xp.isfinite(X[0]) & xp.isfinite(X[1]) & xp.isfinite(X[2])
    parallel = ~few & (((nused >= 2) & (~(det_rel > 1e-12) | ~finite)) | all_parallel)
    parallel = parallel | _narrow(xp, g, x, y, used, ~parallel & (nused >= 2) & (det_rel < 0.05),
                                  s.min_ray_angle_deg)
    behind = ~few & ~parallel & (nused < s.min_views) & (valid & ~(z > 0)).any(0)
    flags = (few * FLAG_FEW_VIEWS + (~few & ~parallel & (nused < s.min_views)) * FLAG_NO_CONSENSUS
             + parallel * FLAG_PARALLEL_RAYS + behind * FLAG_BEHIND_CAMERA)
    ok = ~few & (nused >= s.min_views) & ~parallel & finite
    X = [xp.where(ok, a, float("nan")) for a in X]
    used = used & ok[None]
    return X, used, err, flags


def triangulate_points(rig: Rig, xy_px: np.ndarray, conf: np.ndarray,
                       settings: TriangulateSettings = TriangulateSettings(),
                       xy_n: "np.ndarray | None" = None, jac: "np.ndarray | None" = None,
                       robust: "bool | None" = None,
                       prior: "np.ndarray | None" = None) -> Triangulation:
    """Triangulate a batch of points (numpy or torch path, chosen by ``settings.backend``).

    Args:
        rig: the calibrated cameras (C of them).
        xy_px: (N, C, 2) detections in pixels, rig order, NaN = missing.
        conf: (N, C) confidences in [0, 1]; detections below ``settings.min_conf`` are ignored.
        xy_n, jac: optional precomputed :func:`undistort_detections` of ``xy_px``.
        robust: override ``settings.view_selection == "robust"``.
        prior: optional (N, 3) positions the points are known to be near (NaN = none), e.g.
            from neighbouring frames: view-pair hypotheses further than
            ``settings.temporal_radius_m`` are discarded (robust path).
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
    robust = settings.view_selection == "robust" if robust is None else robust
    xp, dev, chunk = np, None, _CHUNK
    if settings.backend == "torch":
        import torch
        xp, dev = torch, pick_device(settings.device)
        chunk = 1 << 20 if dev.type == "cuda" else _CHUNK
    g = _geometry(rig, xp, dev)
    out = _empty_result(N, C)
    T = (lambda a: a) if xp is np else (lambda a: xp.as_tensor(a, device=dev))  # noqa: E731
    N_ = (lambda a: a) if xp is np else (lambda a: a.cpu().numpy())  # noqa: E731
    ctx = contextlib.nullcontext() if xp is np else xp.no_grad()
    with ctx:
        for a in range(0, N, chunk):
            b = min(N, a + chunk)
            if xy_n is None or jac is None:
                x, y, *jc = _undistort_chunk(rig, xy_px[a:b, :, 0].T.copy(),
                                             xy_px[a:b, :, 1].T.copy())
            else:
                x, y = (xy_n[a:b, :, k].T.copy() for k in (0, 1))
                jc = [jac[a:b, :, i, j].T.copy() for i in (0, 1) for j in (0, 1)]
            cf = conf[a:b].T.copy()
            valid = cf >= settings.min_conf
            if not settings.min_conf > 0:
                valid &= cf > 0
            valid &= np.isfinite(x) & np.isfinite(y)
            pr = None if prior is None else [T(np.ascontiguousarray(prior[a:b, k]))
                                             for k in range(3)]
            X, used, err, flags = _triangulate_chunk(g, T(x), T(y), [T(j) for j in jc], T(cf),
                                                     T(valid), settings, robust, pr)
            used, err = N_(used), np.where(valid, N_(err), np.nan)
            for k in range(3):
                out.xyz[a:b, k] = N_(X[k])
            out.used[a:b] = used.T
            out.err_px[a:b] = err.T
            out.flags[a:b] = N_(flags)
            n = used.sum(0)
            with np.errstate(invalid="ignore", divide="ignore"):
                out.mean_err_px[a:b] = np.where(used, err, 0.0).sum(0) / np.where(n > 0, n, np.nan)
    return out


def _empty_result(N, C) -> Triangulation:
    """A result every row of which the caller fills."""
    return Triangulation(xyz=np.empty((N, 3)), used=np.empty((N, C), bool),
                         err_px=np.empty((N, C)), mean_err_px=np.empty(N),
                         flags=np.empty(N, np.uint8))


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


def _cross_errors(g: _Geometry, xyz, xy_n, jac, perm):
    """Errors of each detection against its own joint's point and its mirror's point.

    Args:
        xyz: (N, J, 3); xy_n: (N, J, C, 2); jac: (N, J, C, 2, 2); perm: (J,) mirror joints.
    Returns:
        e_self, e_cross: (N, J, C) pixels.
    """
    N, J, C = xy_n.shape[:3]
    mv = lambda a: np.moveaxis(a, 2, 0).reshape(C, N * J)  # noqa: E731
    x, y = mv(xy_n[..., 0]), mv(xy_n[..., 1])
    jc = [mv(jac[..., i, j]) for i in (0, 1) for j in (0, 1)]
    out = []
    for pts in (xyz, xyz[:, perm]):
        X = [pts[..., k].reshape(N * J) for k in range(3)]
        with np.errstate(invalid="ignore"):
            e, _ = _residuals(g, X, x, y, jc)
        out.append(np.moveaxis(e.reshape(C, N, J), 0, 2))
    return out[0], out[1]


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


def _replace(res: Triangulation, idx: np.ndarray, sub: Triangulation) -> Triangulation:
    """``res`` with the points ``idx`` taken from ``sub``."""
    out = [a.copy() for a in (res.xyz, res.used, res.err_px, res.mean_err_px, res.flags)]
    for a, b in zip(out, (sub.xyz, sub.used, sub.err_px, sub.mean_err_px, sub.flags)):
        a[idx] = b
    return Triangulation(*out)


def temporal_reference(xyz: np.ndarray, half_window: int) -> np.ndarray:
    """Where each point is expected from its neighbours in time: the median of the frames
    ``f - h .. f + h`` other than ``f`` (NaN where none is known).

    Args:
        xyz: (F, ...) points over time (axis 0 = frames), NaN = missing.
    Returns:
        (F, ...) the reference positions.
    """
    import warnings
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
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(np.stack(stack), axis=0)


def triangulate_take(det: Detections2D, rig: Rig,
                     settings: TriangulateSettings = TriangulateSettings()) -> TakeTriangulation:
    """Algebraic triangulation of every frame, person and joint of a take.

    Steps (robust view selection): per-joint robust triangulation; left/right swap repair
    (swapped pairs relabelled, their joints triangulated again); then a temporal check: a
    joint further than ``temporal_radius_m`` from the median of its neighbouring frames (or
    missing while they are known) is triangulated again keeping only view-pair hypotheses
    within that radius of them (a wrong pair of views can agree by chance; the neighbouring
    frames tell which pair is right), and is left missing when none is.

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
    robust = settings.view_selection == "robust"
    shp = lambda a: a.reshape((F * P, J) + a.shape[1:])  # noqa: E731
    flat = lambda a: a.reshape((F * P * J,) + a.shape[2:])  # noqa: E731
    if settings.repair_swaps and len(pairs) and robust:
        valid = ((conf >= settings.min_conf) & (conf > 0) & np.isfinite(xy_n).all(-1))
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
            xy_n, jac, conf = flat(n_xy), flat(n_jac), flat(n_conf)
            res = _replace(res, idx, triangulate_points(rig, xy[idx], conf[idx], settings,
                                                        xy_n[idx], jac[idx]))
            log.info("repaired %d left/right swapped pairs (pair x view x frame)",
                     int(swapped.sum()))
    if robust and settings.temporal_radius_m > 0 and F >= 3:
        xyz = res.xyz.reshape(F, P * J, 3)
        ref = temporal_reference(xyz, max(1, settings.temporal_half_window)).reshape(-1, 3)
        dev = np.linalg.norm(res.xyz - ref, axis=-1)
        known = np.isfinite(ref).all(-1)
        sus = known & ~(dev <= settings.temporal_radius_m)
        idx = np.flatnonzero(sus)
        if idx.size:
            sub = triangulate_points(rig, xy[idx], conf[idx], settings, xy_n[idx], jac[idx],
                                     prior=ref[idx])
            res = _replace(res, idx, sub)
            log.info("%d joints re-triangulated near their neighbouring frames", idx.size)
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
    for bit, what, level in (
            (FLAG_PARALLEL_RAYS, "have (nearly) parallel rays (coincident or collinear "
                                 "cameras?)", logging.WARNING),
            (FLAG_BEHIND_CAMERA, "have no agreeing views in front of the cameras", logging.INFO),
            (FLAG_NO_CONSENSUS, "have no two agreeing views", logging.INFO)):
        k = int(((res.flags & bit) > 0).sum())
        if k:
            log.log(level, "%d joints %s: left missing (NaN)", k, what)


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
