"""Triangulation of 2D keypoints seen by calibrated cameras.

The algebraic method is a confidence-weighted DLT on undistorted *normalised* image
coordinates (so lens distortion and the intrinsics are removed before the linear solve), batched
over every frame, person and joint at once. Views are then rejected greedily, worst
reprojection error first, until every remaining view reprojects within a threshold (in pixels,
measured with the full camera model including distortion) or too few views remain.
"""
from __future__ import annotations

import logging

import numpy as np

from calibration import Rig

from .errors import TriangulationError
from .settings import TriangulateSettings
from .types import Detections2D, Points3D

log = logging.getLogger(__name__)

__all__ = ["dlt_weighted", "reprojection_errors", "triangulate_views", "triangulate"]


def dlt_weighted(Rt: np.ndarray, xy_n: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Confidence-weighted linear triangulation.

    Args:
        Rt: (C, 3, 4) normalised projection matrices ``[R_cam_from_world | t]`` (no K).
        xy_n: (N, C, 2) undistorted normalised image coordinates (NaN allowed where w = 0).
        w: (N, C) non-negative weights (0 = view not used).
    Returns:
        (N, 3) world points, metres; NaN where fewer than two views have weight, or where the
        views' rays are (nearly) parallel, so the point is not determined.

    Each view contributes the rows ``w (x P3 - P1)`` and ``w (y P3 - P2)``; the solution is the
    eigenvector of ``A^T A`` with the smallest eigenvalue (same as the SVD solution, cheaper).
    """
    x = np.where(w[..., None] > 0, xy_n, 0.0)
    r1 = x[..., 0:1] * Rt[:, 2] - Rt[:, 0]                     # (N, C, 4)
    r2 = x[..., 1:2] * Rt[:, 2] - Rt[:, 1]
    w2 = (w ** 2)[..., None, None]
    M = (w2 * (r1[..., :, None] * r1[..., None, :] + r2[..., :, None] * r2[..., None, :])).sum(1)
    evals, evecs = np.linalg.eigh(M)                             # ascending eigenvalues
    v = evecs[..., 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        X = v[..., :3] / v[..., 3:4]
        # A determined point has one near-zero eigenvalue; a second one means parallel rays.
        ill = evals[..., 1] <= 1e-12 * np.maximum(evals[..., 3], 1e-300)
    bad = ((w > 0).sum(-1) < 2) | ill | (np.abs(v[..., 3]) < 1e-12)
    X[bad] = np.nan
    return X


def reprojection_errors(rig: Rig, X: np.ndarray, xy_px: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixel distance between each camera's projection of ``X`` and its detection.

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


def triangulate_views(rig: Rig, xy_px: np.ndarray, conf: np.ndarray, min_conf: float = 0.2,
                      min_views: int = 2, reproj_threshold_px: float = 15.0,
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Triangulate a batch of points with greedy view rejection.

    Args:
        xy_px: (N, C, 2) pixels in the rig's camera order, NaN = missing. conf: (N, C).
    Returns:
        X (N, 3) metres (NaN where not enough consistent views), used (N, C) bool,
        err (N,) mean reprojection error over the used views, pixels.
    """
    N, C = conf.shape
    if xy_px.shape != (N, C, 2) or C != len(rig):
        raise TriangulationError(
            f"detections have shape {xy_px.shape} for {len(rig)} cameras; expected (N, "
            f"{len(rig)}, 2)")
    Rt = np.stack([np.hstack([cam.R_cam_from_world, cam.t_cam_from_world[:, None]])
                   for cam in rig])
    xy_n = np.stack([cam.undistort_points(xy_px[:, c]) for c, cam in enumerate(rig)], 1)
    used = (conf >= min_conf) & np.isfinite(xy_n).all(-1)
    for _ in range(max(1, C - min_views + 1)):
        w = np.where(used, conf, 0.0)
        X = dlt_weighted(Rt, xy_n, w)
        err, depth = reprojection_errors(rig, X, xy_px)
        bad = used & ~((err <= reproj_threshold_px) & (depth > 0))
        todo = bad.any(-1) & (used.sum(-1) > min_views)
        if not todo.any():
            break
        score = np.where(used, np.nan_to_num(err, nan=np.inf), -1.0)
        score = np.where(depth > 0, score, np.inf)
        worst = np.argmax(score, axis=-1)
        used[np.flatnonzero(todo), worst[todo]] = False
    w = np.where(used, conf, 0.0)
    X = dlt_weighted(Rt, xy_n, w)
    err, depth = reprojection_errors(rig, X, xy_px)
    ok = (used.sum(-1) >= min_views) & np.isfinite(X).all(-1)
    ok &= ~(used & ~((err <= reproj_threshold_px) & (depth > 0))).any(-1)
    X[~ok] = np.nan
    used[~ok] = False
    with np.errstate(invalid="ignore"):
        mean_err = np.where(ok, np.nansum(np.where(used, err, 0), -1) / np.maximum(used.sum(-1), 1),
                            np.nan)
    return X, used, mean_err


def _check_cameras(rig: Rig, det: Detections2D) -> None:
    if tuple(det.camera_names) != tuple(rig.names):
        raise TriangulationError(
            f"detections are for cameras {list(det.camera_names)}, the calibration has "
            f"{list(rig.names)}; expected the same cameras in the same order")


def triangulate(det: Detections2D, rig: Rig,
                settings: TriangulateSettings = TriangulateSettings()) -> Points3D:
    """Triangulate every frame, person and joint of a take (algebraic method).

    Returns:
        Points3D with ``xyz`` (F, P, J, 3), ``conf`` = mean confidence of the views used,
        ``views_used`` (F, P, J, C) and ``reproj_err_px`` (F, P, J).
    """
    _check_cameras(rig, det)
    if settings.method != "algebraic":
        raise TriangulationError(
            f"[triangulate] method {settings.method!r} is not available; expected 'algebraic'")
    C, F, P, J = det.shape
    xy = np.moveaxis(det.xy, 0, 3).reshape(-1, C, 2)
    conf = np.moveaxis(det.conf, 0, 3).reshape(-1, C).astype(np.float64)
    X, used, err = triangulate_views(rig, xy, conf, settings.min_conf, settings.min_views,
                                     settings.reproj_threshold_px)
    n_used = used.sum(-1)
    mean_conf = np.where(n_used > 0, (conf * used).sum(-1) / np.maximum(n_used, 1), 0.0)
    log.info("triangulated %d of %d joints (%.1f%%)", np.isfinite(X[:, 0]).sum(), len(X),
             100.0 * np.isfinite(X[:, 0]).mean())
    kf = det.keypoint_format
    return Points3D(xyz=X.reshape(F, P, J, 3), conf=mean_conf.reshape(F, P, J).astype(np.float32),
                    joint_names=kf.joint_names, fps=det.fps, format=kf.name,
                    views_used=used.reshape(F, P, J, C),
                    reproj_err_px=err.reshape(F, P, J).astype(np.float32),
                    camera_names=det.camera_names)
