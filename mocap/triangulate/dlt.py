"""The linear solve of triangulation: weighted DLT normal equations, solved in closed form.

Conventions: world frame right-handed, Z up, metres; camera frame OpenCV, ``X_cam = R X + t``;
pixels with (0, 0) the centre of the top-left pixel. ``xy_n`` are undistorted *normalised*
image coordinates ``(x / z, y / z)``: lens distortion and intrinsics are removed before any
linear solve.

Each view c with normalised coordinates (x, y) gives two rows
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

Layout: per-view arrays are views-first, (C, *B) with B the batch axes, because numpy is
fast when the innermost axis is long (the batch), and sums over views are then sums over
rows. Camera constants are given as ``(C, 1, ..., 1)`` columns that broadcast against them.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from calibration import Rig, RigArrays

from .backend import filled, ns

__all__ = ["DltRig", "dlt_rig", "dlt_columns", "normal_map", "to_cameras", "features",
           "feature_solve", "pieces", "solve_sym3", "weighted_solve", "residuals",
           "dlt_weighted", "reprojection_errors"]

_IJ = ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2))


@dataclass(frozen=True)
class DltRig:
    """A rig's cameras (:class:`calibration.RigArrays`) with the arrays the batched DLT
    derives from them (numpy or torch, on one device).

    Attributes:
        R: 3 x 3 nested (C, 1) columns, ``R[k][i]`` entry (k, i) of every camera's
            ``R_cam_from_world``; t: 3 (C, 1) columns of ``t_cam_from_world``, metres. They
            broadcast against per-view arrays (C, N) (with more singleton axes after
            :meth:`expand`).
        cams: the cameras they come from (None for bare ``[R | t]`` matrices,
            :func:`dlt_columns`).
        normal: the (9, 4 C) map of :func:`normal_map`; ``Rs`` (3 C, 3) and ``ts`` (3 C, 1)
            the rotations and translations stacked (rows x of every camera, then y, then z) to
            move points into all cameras by one matrix product (None where only the columns
            are needed).
    """

    R: tuple
    t: tuple
    cams: "RigArrays | None" = None
    normal: object = None
    Rs: object = None
    ts: object = None

    def expand(self, extra: int) -> "DltRig":
        """The same columns with ``extra`` more singleton axes (for (C, H, S) batches)."""
        if extra == 0:
            return self
        sh = lambda a: a.reshape(a.shape + (1,) * extra)  # noqa: E731
        return replace(self, R=tuple(tuple(sh(r) for r in row) for row in self.R),
                       t=tuple(sh(a) for a in self.t), normal=None, Rs=None, ts=None)


def dlt_columns(R, t, cams: "RigArrays | None" = None, normal=None) -> DltRig:
    """R (C, 3, 3) ``R_cam_from_world`` and t (C, 3) metres (numpy or torch) ->
    :class:`DltRig` (``cams``, ``normal``: kept as given)."""
    xp = ns(R)
    Rs = xp.concatenate([R[:, k, :] for k in range(3)], 0)
    ts = xp.concatenate([t[:, k] for k in range(3)], 0)[:, None]
    return DltRig(tuple(tuple(R[:, k, i][:, None] for i in range(3)) for k in range(3)),
                  tuple(t[:, k][:, None] for k in range(3)), cams, normal, Rs, ts)


def dlt_rig(cams: RigArrays) -> DltRig:
    """The DLT's arrays of a rig's cameras (numpy, or torch on the tensors' device):
    ``rig.arrays()`` or ``rig.arrays().to(device)``."""
    R, t = cams.R_cam_from_world, cams.t_cam_from_world
    return dlt_columns(R, t, cams, normal_map(R, t))


def to_cameras(g: DltRig, X):
    """Points X (3 arrays (N,)) in every camera: xc, yc, z (C, N) (one matrix product; the
    columns of ``g`` broadcast when X has more axes, e.g. hypotheses (H, S))."""
    if g.Rs is not None and X[0].ndim == 1:
        xp = ns(X[0])
        P = g.Rs @ xp.stack(X) + g.ts
        C = P.shape[0] // 3
        return P[:C], P[C:2 * C], P[2 * C:]
    R, t = g.R, g.t
    X0, X1, X2 = X
    return (R[0][0] * X0 + R[0][1] * X1 + R[0][2] * X2 + t[0],
            R[1][0] * X0 + R[1][1] * X1 + R[1][2] * X2 + t[1],
            R[2][0] * X0 + R[2][1] * X1 + R[2][2] * X2 + t[2])


def _outer6(a, b):
    """(C, 6) entries 00, 01, 02, 11, 12, 22 of the outer products ``a_c b_c^T`` (a, b (C, 3))."""
    return ns(a).stack([a[:, i] * b[:, j] for i, j in _IJ], -1)


def normal_map(R, t):
    """The normal equations of the DLT as a linear map of per-view features.

    A view with normalised detection (x, y) adds ``a1 a1^T + a2 a2^T`` to M and ``a1 b1 +
    a2 b2`` to v (see :func:`pieces`); both are linear in the features ``(1, x, y, x^2 +
    y^2)`` with coefficients fixed by the camera. So for all points at once, with the
    weighted features ``F`` (4 C, N) (row ``f * C + c``: feature f of view c times its
    weight), ``G @ F`` (9, N) holds M's 6 upper entries and v: one matrix product.

    Args:
        R: (C, 3, 3) ``R_cam_from_world``; t: (C, 3) ``t_cam_from_world``, metres (numpy or
            torch).
    Returns:
        G (9, 4 C), contiguous, of R's kind.
    """
    xp = ns(R)
    R0, R1, R2 = R[:, 0], R[:, 1], R[:, 2]
    t0, t1, t2 = (t[:, k:k + 1] for k in range(3))
    M = (_outer6(R0, R0) + _outer6(R1, R1), -(_outer6(R2, R0) + _outer6(R0, R2)),
         -(_outer6(R2, R1) + _outer6(R1, R2)), _outer6(R2, R2))
    v = (-(t0 * R0 + t1 * R1), t0 * R2 + t2 * R0, t1 * R2 + t2 * R1, -t2 * R2)
    G = xp.concatenate([xp.concatenate([m, b], -1) for m, b in zip(M, v)], 0).T
    return G.copy() if xp is np else G.contiguous()


def features(x, y):
    """(4, C, *B) features ``(1, x, y, x^2 + y^2)`` of normalised detections x, y (C, *B)."""
    xp = ns(x)
    return xp.stack([filled(x, 1.0), x, y, x * x + y * y])


def feature_solve(g: DltRig, feats, w2):
    """Solve the normal equations with squared view weights ``w2`` (C, N) through
    :func:`normal_map`: feats (4, C, N) from :func:`features`. Returns as
    :func:`solve_sym3`."""
    F = (w2[None] * feats).reshape(-1, w2.shape[-1])
    out = g.normal @ F
    return solve_sym3([out[k] for k in range(6)], [out[k] for k in range(6, 9)])


def pieces(g: DltRig, x, y):
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


def solve_sym3(m, v):
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
    xp = ns(det)
    with np.errstate(divide="ignore", invalid="ignore"):
        det_rel = det / (tr * tr * tr)
        inv = 1.0 / det
        X = [(c00 * v[0] + c01 * v[1] + c02 * v[2]) * inv,
             (c01 * v[0] + c11 * v[1] + c12 * v[2]) * inv,
             (c02 * v[0] + c12 * v[1] + c22 * v[2]) * inv]
    return X, xp.where(xp.isfinite(det_rel), det_rel, 0.0)


def weighted_solve(m, v, w):
    """Solve with view weights ``w`` (C, *B) on the pieces (weights of squared rows)."""
    return solve_sym3([(w * a).sum(0) for a in m], [(w * a).sum(0) for a in v])


def residuals(g: DltRig, X, x, y, jac):
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
        xc, yc, z = to_cameras(g, X)
        iz = 1.0 / z
        dx = xc * iz - x
        dy = yc * iz - y
        eu = jac[0] * dx + jac[1] * dy
        ev = jac[2] * dx + jac[3] * dy
        err = (eu * eu + ev * ev) ** 0.5
    xp = ns(z)
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
    xp = ns(xy_n)
    on = (w > 0).T
    wT = w.T
    x = xp.where(on, xy_n[..., 0].T, 0.0)
    y = xp.where(on, xy_n[..., 1].T, 0.0)
    g = dlt_columns(Rt[:, :, :3], Rt[:, :, 3])
    m, v = pieces(g, x, y)
    X, det_rel = weighted_solve(m, v, wT * wT)
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
