"""Refine a calibrated rig from people's 2D keypoints (a pure function: arrays in, rig out).

After a capture, the 2D keypoints of the people seen by several cameras are correspondences
all over the capture volume, far more of them than a board gives. :func:`refine_from_keypoints`
triangulates them with the current rig, then runs the bundle adjustment of
:mod:`calibration.bundle` on the cameras and the 3D points (robust loss: keypoints have
outliers and left/right swaps).

Images alone cannot tell the scale, nor the world frame: they came from the board. The refined
rig is therefore mapped back by the similarity (rotation, translation, *scale*) that best
aligns its camera centres with the input rig's (with two cameras, a scale about the first
camera), so the board's metric scale and world frame are kept.

The library knows nothing of people: keypoints are any points seen by several cameras at the
same frame, (C, F, J, 2) pixels with NaN where unseen.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np

from calibration.bundle import BundleOptions, Observations, bundle_adjust
from calibration.errors import InsufficientDataError, ShapeError
from calibration.io.formats import RigMetadata
from calibration.rig import Rig
from calibration.world import camera_centers, similarity_from_points, transform_rig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KeypointRefineOptions:
    """How a rig is refined from keypoints."""

    min_conf: float = 0.3
    """Keypoints below this confidence are ignored."""
    min_views: int = 2
    """Fewest cameras a point must be seen by."""
    max_initial_error_px: float = 40.0
    """Points whose first triangulation reprojects worse than this (pixels) are dropped."""
    max_points: int = 1000
    """At most this many 3D points (drawn evenly at random over the frames) enter the
    adjustment: the cameras' error falls only as one over the square root of their number,
    while the sparse solver's time grows faster than linearly with it."""
    refine_intrinsics: bool = False
    """Also refine focal lengths and principal points (distortion stays). Poorly conditioned
    unless people cover much of every image: refined intrinsics that move further than
    ``max_intrinsic_change`` are rejected (with a warning) for the extrinsics-only result."""
    max_intrinsic_change: float = 0.05
    """Largest accepted change of a focal length (share of it) or of a principal point
    (share of the image size) when refining intrinsics. On the Pose2Sim demo (one person,
    4 cameras) free intrinsics drift by hundreds of pixels: the limit catches that."""
    refine_focal: bool = False
    """Refine one focal length per camera (fy follows fx, the principal point stays), with no
    limit on how far it moves: for cameras whose focal was guessed (calibration with no
    board and no intrinsics); its standard deviation is reported
    (:attr:`KeypointRefineResult.focal_sd_px`)."""
    refine_k1: bool = False
    """Also refine each camera's first radial coefficient k1 (the others stay)."""
    loss_scale_px: float = 2.0
    """Error (pixels) at which the robust loss flattens."""
    outlier_px: float = 15.0
    """Observations worse than this after a first solve are dropped."""
    seed: int = 0
    """Seed of the subsampling of points."""


@dataclass(frozen=True)
class KeypointRefineResult:
    """A refined rig and how much it improved.

    Attributes:
        rig: refined rig (same world frame and scale as the input, metadata updated).
        error_before_px: (C,) RMS reprojection error per camera with the input rig, pixels,
            over the points used.
        error_after_px: (C,) the same with the refined rig.
        points_used: number of 3D points in the adjustment.
        scale: scale applied to bring the refined rig back to the input rig's size.
        intrinsics_refined: whether the rig's intrinsics were refined (False when not asked
            for, or rejected for moving too far).
        focal_sd_px: (C,) standard deviation of each focal length (pixels) with
            ``refine_focal``, else None; k1_sd: (C,) the same for k1 with ``refine_k1``.
    """

    rig: Rig
    error_before_px: np.ndarray
    error_after_px: np.ndarray
    points_used: int
    scale: float
    intrinsics_refined: bool = False
    focal_sd_px: "np.ndarray | None" = None
    k1_sd: "np.ndarray | None" = None


def triangulate_normalized(xy_n: np.ndarray, w: np.ndarray, P: np.ndarray) -> np.ndarray:
    """Weighted DLT of points from normalised (undistorted) coordinates.

    Args:
        xy_n: (C, P, 2) normalised coordinates, NaN where unseen.
        w: (C, P) weights (0 where unseen).
        P: (C, 3, 4) ``[R | t]`` of each camera (world -> camera).

    Returns:
        (P, 3) world points, NaN where fewer than two cameras saw the point.
    """
    C, N, _ = xy_n.shape
    x = np.nan_to_num(xy_n)
    rows = np.concatenate([
        x[..., 0:1] * P[:, None, 2, :] - P[:, None, 0, :],
        x[..., 1:2] * P[:, None, 2, :] - P[:, None, 1, :],
    ], axis=0)  # (2C, N, 4)
    ww = np.concatenate([w, w], axis=0)[..., None]
    A = np.transpose(rows * ww, (1, 0, 2))  # (N, 2C, 4)
    _, _, Vt = np.linalg.svd(A)
    X = Vt[:, -1]
    with np.errstate(all="ignore"):
        out = X[:, :3] / X[:, 3:4]
    out[np.sum(w > 0, axis=0) < 2] = np.nan
    return out


def refine_from_keypoints(
    rig: Rig,
    xy: np.ndarray,
    conf: np.ndarray | None = None,
    options: KeypointRefineOptions = KeypointRefineOptions(),
) -> KeypointRefineResult:
    """Refine a rig's extrinsics (and optionally intrinsics) from 2D keypoints.

    Args:
        rig: the calibrated rig (world frame and metric scale from a board).
        xy: (C, F, J, 2) keypoint pixels per camera in rig order, NaN where unseen (a person
            axis can be folded into J).
        conf: (C, F, J) confidences in [0, 1] (None: 1 wherever ``xy`` is finite).
        options: thresholds and what may be refined.

    Returns:
        The refined rig and the per-camera reprojection errors before and after.

    Raises:
        ShapeError: shapes that do not match the rig.
        InsufficientDataError: too few points seen by several cameras.
    """
    xy, conf = _checked_keypoints(rig, xy, conf)
    pts, w = _selected_points(rig, xy, conf, options)
    X, w, err, cam_i, pt_i = _first_triangulation(rig, pts, w, options)
    used = np.unique(pt_i)
    ba = _adjust(rig, X, used, cam_i, pt_i, pts, w, options)
    if options.refine_intrinsics:
        drift = _intrinsic_drift(rig.cameras, ba.cameras)
        if drift.max() > options.max_intrinsic_change:
            worst = rig.names[int(np.argmax(drift))]
            log.warning("refining intrinsics from keypoints moved camera %s's by %.0f %% (limit "
                        "%.0f %%): too few constraints, keeping the intrinsics and refining the "
                        "poses only", worst, 100 * drift.max(), 100 * options.max_intrinsic_change)
            return refine_from_keypoints(rig, xy, conf, replace(options, refine_intrinsics=False))
    refined, scale = _restore_frame(rig, Rig(ba.cameras, rig.metadata))
    C = len(rig)
    after_err = np.linalg.norm(refined.project(_retriangulate(refined, pts, w)[0]) - pts, axis=-1)
    after = _per_camera_rms(after_err[cam_i, pt_i], cam_i, C, keep=ba.inliers)
    before_in = _per_camera_rms(err[cam_i, pt_i], cam_i, C, keep=ba.inliers)
    log.info("refined from %d keypoints: reprojection %s -> %s px (scale %.5f restored)",
             used.size, np.round(before_in, 3).tolist(), np.round(after, 3).tolist(), scale)
    meta = RigMetadata(adjusted=True, error_px=float(np.sqrt(np.nanmean(after**2))),
                       error_px_per_camera=tuple(float(e) for e in after))
    sd = ba.camera_sd
    return KeypointRefineResult(Rig(refined.cameras, meta), before_in, after, int(used.size), scale,
                                options.refine_intrinsics,
                                None if sd is None or not options.refine_focal else sd[:, 0],
                                None if sd is None or not options.refine_k1 else sd[:, 4])


def _checked_keypoints(rig: Rig, xy, conf) -> tuple[np.ndarray, np.ndarray]:
    """``xy`` (C, F, J, 2) and ``conf`` (C, F, J) as float64, checked against the rig (conf
    None: 1 wherever ``xy`` is finite)."""
    xy = np.asarray(xy, dtype=np.float64)
    C = len(rig)
    if xy.ndim != 4 or xy.shape[0] != C or xy.shape[-1] != 2:
        raise ShapeError(f"xy: expected shape ({C}, F, J, 2) for {C} cameras, found {xy.shape}")
    if conf is None:
        conf = np.isfinite(xy[..., 0]).astype(np.float64)
    conf = np.asarray(conf, dtype=np.float64)
    if conf.shape != xy.shape[:-1]:
        raise ShapeError(f"conf: expected shape {xy.shape[:-1]}, found {conf.shape}")
    return xy, conf


def _selected_points(rig: Rig, xy: np.ndarray, conf: np.ndarray,
                     options: KeypointRefineOptions) -> tuple[np.ndarray, np.ndarray]:
    """The keypoints seen by enough cameras (at most ``options.max_points`` of them, drawn at
    random): pixels (C, P, 2) and weights (C, P) (0 where unseen or below ``min_conf``)."""
    C = len(rig)
    pts = xy.reshape(C, -1, 2)
    w = np.where(np.isfinite(pts[..., 0]) & (np.nan_to_num(conf.reshape(C, -1)) >= options.min_conf),
                 np.nan_to_num(conf.reshape(C, -1)), 0.0)
    seen = np.sum(w > 0, axis=0) >= options.min_views
    idx = np.flatnonzero(seen)
    if idx.size > options.max_points:
        rng = np.random.default_rng(options.seed)
        idx = np.sort(rng.choice(idx, options.max_points, replace=False))
    if idx.size < 20:
        raise InsufficientDataError(
            ",".join(rig.names),
            f"expected at least 20 keypoints seen by >= {options.min_views} cameras with "
            f"confidence >= {options.min_conf}, found {idx.size}",
        )
    return pts[:, idx], w[:, idx]


def _first_triangulation(rig: Rig, pts: np.ndarray, w: np.ndarray, options: KeypointRefineOptions):
    """Triangulate with the input rig; keep the observations within
    ``options.max_initial_error_px``. Returns the points X (P, 3), the weights (C, P) (0
    too where a keypoint does not undistort), the errors (C, P) pixels, and the camera and
    point index (M,) of each kept observation."""
    X, w = _retriangulate(rig, pts, w)
    err = np.linalg.norm(rig.project(X) - pts, axis=-1)
    ok_obs = (w > 0) & np.isfinite(err) & (err <= options.max_initial_error_px)
    good = np.isfinite(X[:, 0]) & (ok_obs.sum(axis=0) >= 2)
    cam_i, pt_i = np.nonzero(ok_obs & good[None])
    if np.unique(pt_i).size < 20:
        raise InsufficientDataError(
            ",".join(rig.names),
            f"expected at least 20 keypoints that triangulate within "
            f"{options.max_initial_error_px} px, found {np.unique(pt_i).size}",
        )
    return X, w, err, cam_i, pt_i


def _adjust(rig: Rig, X, used, cam_i, pt_i, pts, w, options: KeypointRefineOptions):
    """Bundle adjustment of the cameras and the points ``X[used]`` from the kept
    observations."""
    remap = -np.ones(X.shape[0], dtype=int)
    remap[used] = np.arange(used.size)
    obs = Observations(cam_i, remap[pt_i], np.zeros(cam_i.size, dtype=int), pts[cam_i, pt_i], w[cam_i, pt_i])
    bopts = BundleOptions(
        refine_focal=options.refine_intrinsics or options.refine_focal,
        refine_principal_point=options.refine_intrinsics,
        refine_distortion=options.refine_k1,
        distortion_terms=1,
        same_focal_xy=not options.refine_intrinsics,
        uncertainty=options.refine_focal or options.refine_k1,
        loss="soft_l1",
        loss_scale_px=options.loss_scale_px,
        outlier_px=options.outlier_px,
    )
    return bundle_adjust(rig.cameras, X[used], obs, None, bopts)


def _intrinsic_drift(before, after) -> np.ndarray:
    """(C,) largest relative change per camera: focal lengths over themselves, principal
    points over the image size."""
    out = []
    for a, b in zip(before, after):
        f = np.abs(b.K[[0, 1], [0, 1]] / a.K[[0, 1], [0, 1]] - 1)
        c = np.abs(b.K[:2, 2] - a.K[:2, 2]) / np.asarray(a.size_wh, float)
        out.append(max(f.max(), c.max()))
    return np.asarray(out)


def _per_camera_rms(err: np.ndarray, cam: np.ndarray, C: int, keep: np.ndarray | None = None) -> np.ndarray:
    keep = np.ones(err.shape, bool) if keep is None else keep
    out = np.full(C, np.nan)
    for c in range(C):
        m = keep & (cam == c) & np.isfinite(err)
        if m.any():
            out[c] = float(np.sqrt(np.mean(err[m] ** 2)))
    return out


def _retriangulate(rig: Rig, pts: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points (P, 3) triangulated from pixels ``pts`` (C, P, 2) with weights ``w`` (C, P),
    and the weights used (0 too where a pixel does not undistort)."""
    xy_n = np.stack([cam.undistort_points(pts[c]) for c, cam in enumerate(rig)])
    w = np.where(np.isfinite(xy_n[..., 0]), w, 0.0)
    Rt = np.stack([np.hstack([c.R_cam_from_world, c.t_cam_from_world[:, None]]) for c in rig])
    return triangulate_normalized(xy_n, w, Rt), w


def _restore_frame(reference: Rig, refined: Rig) -> tuple[Rig, float]:
    """Map ``refined`` onto ``reference``'s frame and scale (see the module docstring)."""
    src, dst = camera_centers(refined.cameras), camera_centers(reference.cameras)
    if len(reference) >= 3:
        T, s = similarity_from_points(src, dst, with_scale=True)
        return transform_rig(refined, T, s), s
    # Two cameras: the first is fixed by the adjustment; scale the baseline about it.
    s = float(np.linalg.norm(dst[1] - dst[0]) / np.linalg.norm(src[1] - src[0]))
    T = np.eye(4)
    T[:3, 3] = (1.0 - s) * src[0]
    return transform_rig(refined, T, s), s
