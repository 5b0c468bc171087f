"""Algebraic triangulation of a whole take: robust points, left/right swap repair, a temporal
check against neighbouring frames, flags logged; and the choice of the main person."""
from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np

from calibration import Rig

from ..nanstats import nanmedian
from ..settings import TriangulateSettings
from ..types import Detections2D, Points3D
from .checks import check_cameras
from .dlt import dlt_rig
from .points import (FLAG_BEHIND_CAMERA, FLAG_NO_CONSENSUS, FLAG_PARALLEL_RAYS, Triangulation,
                     triangulate_points)
from .swaps import cross_errors, flip_views, repair_swaps
from .undistort import undistort_detections

log = logging.getLogger(__name__)

__all__ = ["select_main_person", "TakeTriangulation", "temporal_reference", "triangulate_take",
           "view_thresholds"]


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
        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        self._w.__exit__(*exc)


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


def _replace(res: Triangulation, idx: np.ndarray, sub: Triangulation) -> Triangulation:
    """``res`` with the points ``idx`` taken from ``sub``, in place (``res`` is the take's
    own result: copying its arrays would cost more than the rows replaced)."""
    out = (res.xyz, res.used, res.err_px, res.mean_err_px, res.flags)
    for a, b in zip(out, (sub.xyz, sub.used, sub.err_px, sub.mean_err_px, sub.flags)):
        a[idx] = b
    return res


def temporal_reference(xyz: np.ndarray, half_window: int, chunk: int = 8192) -> np.ndarray:
    """Where each point is expected from its neighbours in time: the median of the frames
    ``f - h .. f + h`` other than ``f`` (NaN where none is known).

    Args:
        xyz: (F, ...) points over time (axis 0 = frames), NaN = missing.
        chunk: values per block of frames (blocks keep the windows' copies in the cache;
            the result does not depend on it).
    Returns:
        (F, ...) the reference positions.
    """
    h = int(half_window)
    F = xyz.shape[0]
    pad = np.full((F + 2 * h,) + xyz.shape[1:], np.nan)
    pad[h:h + F] = xyz
    out = np.empty(xyz.shape)
    step = max(1, chunk // max(1, int(np.prod(xyz.shape[1:])) * 2 * h))
    shifts = [d for d in range(-h, h + 1) if d != 0]
    for a in range(0, F, step):
        b = min(F, a + step)
        out[a:b] = nanmedian(np.stack([pad[a + h + d:b + h + d] for d in shifts]), axis=0)
    return out


#: Frames on each side of a frame whose sizes give a person's size in a view (their median).
SIZE_HALF_WINDOW = 3


def person_size_px(xy: np.ndarray, half_window: int = SIZE_HALF_WINDOW) -> np.ndarray:
    """A person's size in each view and frame: the longest side of the box around their
    keypoints, the median over the frames ``f - half_window .. f + half_window`` (a person's
    size changes slowly; a keypoint far off in one frame does not set it).

    Args:
        xy: (C, F, P, J, 2) keypoints, pixels, NaN = missing.
    Returns:
        (C, F, P) pixels (NaN where the person has no keypoint in the window).
    """
    with _quiet():
        side = (np.nanmax(xy, axis=-2) - np.nanmin(xy, axis=-2)).max(-1)      # (C, F, P)
    C, F, P = side.shape
    h = int(half_window)
    pad = np.full((C, F + 2 * h, P), np.nan)
    pad[:, h:h + F] = side
    out = np.empty(side.shape)
    step = max(1, (1 << 16) // (C * P * (2 * h + 1)))      # blocks of frames: small temporaries
    for a in range(0, F, step):
        b = min(F, a + step)
        out[:, a:b] = nanmedian(np.stack([pad[:, a + d:b + d] for d in range(2 * h + 1)], -1))
    return out


def view_thresholds(xy: np.ndarray, conf: np.ndarray,
                    settings: TriangulateSettings) -> np.ndarray:
    """Each view's outlier threshold for each point: the larger of ``reproj_threshold_px`` and
    ``reproj_threshold_frac`` of the person's size in that view (:func:`person_size_px` of
    their keypoints at or above ``min_conf``; a detector's error grows with the
    person's size in pixels, so a fixed pixel threshold would reject good views of a person
    filmed at a higher resolution).

    Args:
        xy: (C, F, P, J, 2) detections, image pixels, NaN = missing. conf: (C, F, P, J).
    Returns:
        (F P J, C) thresholds, pixels, rows in (frame, person, joint) order as
        :func:`triangulate_take` flattens them; the fixed one where the person has fewer than
        two keypoints in a view.
    """
    C, F, P, J = conf.shape
    seen = (conf >= settings.min_conf) & (conf > 0) & np.isfinite(xy).all(-1)
    side = person_size_px(np.where(seen[..., None], xy, np.nan))         # (C, F, P)
    thr = np.fmax(settings.reproj_threshold_px, settings.reproj_threshold_frac * side)
    thr = np.where(seen.sum(-1) >= 2, thr, settings.reproj_threshold_px)
    return np.broadcast_to(np.moveaxis(thr, 0, -1)[:, :, None], (F, P, J, C)).reshape(-1, C)


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
    check_cameras(rig, det)
    C, F, P, J = det.shape
    kf = det.keypoint_format
    xy = np.moveaxis(det.xy, 0, 3).reshape(-1, C, 2)
    conf = np.moveaxis(det.conf, 0, 3).reshape(-1, C).astype(np.float64)
    xy_n, jac = undistort_detections(rig, xy)
    tau = view_thresholds(det.xy, det.conf, settings)                    # (N, C) pixels
    res = triangulate_points(rig, xy, conf, settings, xy_n, jac, threshold_px=tau)
    pairs = np.array(kf.lr_pairs, int).reshape(-1, 2)
    swapped = np.zeros((F * P, len(pairs), C), bool)
    robust = settings.view_selection == "robust"
    if settings.repair_swaps and len(pairs) and robust:
        res, swapped, xy_n, jac, conf = _repair_take_swaps(rig, settings, res, xy, xy_n, jac,
                                                           conf, (F * P, J), kf, tau)
    if robust and settings.temporal_radius_m > 0 and F >= 3:
        res = _temporal_check(rig, settings, res, xy, xy_n, jac, conf, F, tau)
    return _take_result(det, res, conf, swapped)


def _repair_take_swaps(rig: Rig, settings: TriangulateSettings, res: Triangulation, xy, xy_n,
                       jac, conf, shape: tuple, kf, tau=None):
    """Left/right swap repair of a take's points.

    Args:
        res: the take's :class:`Triangulation`, N = F P J rows (frame, person, joint order);
        xy, xy_n, jac, conf: its (N, C, ...) detections as :func:`triangulate_points` takes
        them; shape: (F P, J); kf: the keypoint format; tau: (N, C) each view's outlier
        threshold, pixels (:func:`view_thresholds`; None: the fixed one).
    Returns:
        res with the joints of swapped pairs triangulated again, swapped (F P, K, C) bool, and
        xy_n, jac, conf with the swapped detections relabelled (unchanged when none is).
    """
    FP, J = shape
    pairs = np.array(kf.lr_pairs, int).reshape(-1, 2)
    shp = lambda a: a.reshape((FP, J) + a.shape[1:])  # noqa: E731
    flat = lambda a: a.reshape((FP * J,) + a.shape[2:])  # noqa: E731
    valid = ((conf >= settings.min_conf) & (conf > 0) & np.isfinite(xy_n).all(-1))
    _, e_cross = cross_errors(dlt_rig(rig.arrays()), shp(res.xyz), shp(xy_n), shp(jac),
                              kf.flip_permutation, own=False)
    # each detection's error against its own point: the triangulation's (the same numbers)
    swapped = repair_swaps(shp(res.xyz), shp(res.err_px), e_cross, shp(valid), pairs,
                           settings.reproj_threshold_px)
    if not swapped.any():
        return res, swapped, xy_n, jac, conf
    n_xy, n_jac, n_conf = flip_views(shp(xy_n), shp(jac), shp(conf), swapped, pairs,
                                     inplace=True)              # the take's own arrays
    redo = np.zeros((FP, J), bool)
    hit = swapped.any(-1)                                                # (N, K)
    redo[:, pairs[:, 0]] |= hit
    redo[:, pairs[:, 1]] |= hit
    idx = np.flatnonzero(redo.ravel())
    xy_n, jac, conf = flat(n_xy), flat(n_jac), flat(n_conf)
    res = _replace(res, idx, triangulate_points(rig, xy[idx], conf[idx], settings, xy_n[idx],
                                                jac[idx], threshold_px=_rows(tau, idx)))
    log.info("repaired %d left/right swapped pairs (pair x view x frame)", int(swapped.sum()))
    return res, swapped, xy_n, jac, conf


def _temporal_check(rig: Rig, settings: TriangulateSettings, res: Triangulation, xy, xy_n,
                    jac, conf, F: int, tau=None) -> Triangulation:
    """``res`` with the joints far from their neighbouring frames (or missing while those are
    known) triangulated again near them (rows and detections as :func:`_repair_take_swaps`)."""
    xyz = res.xyz.reshape(F, -1, 3)
    ref = temporal_reference(xyz, max(1, settings.temporal_half_window)).reshape(-1, 3)
    dev = np.linalg.norm(res.xyz - ref, axis=-1)
    known = np.isfinite(ref).all(-1)
    sus = known & ~(dev <= settings.temporal_radius_m)
    idx = np.flatnonzero(sus)
    if idx.size:
        sub = triangulate_points(rig, xy[idx], conf[idx], settings, xy_n[idx], jac[idx],
                                 prior=ref[idx], threshold_px=_rows(tau, idx))
        res = _replace(res, idx, sub)
        log.info("%d joints re-triangulated near their neighbouring frames", idx.size)
    return res


def _rows(a: "np.ndarray | None", idx: np.ndarray) -> "np.ndarray | None":
    return None if a is None else a[idx]


def _take_result(det: Detections2D, res: Triangulation, conf: np.ndarray,
                 swapped: np.ndarray) -> TakeTriangulation:
    """The take's points and diagnostics from its N = F P J rows (flags logged)."""
    C, F, P, J = det.shape
    kf = det.keypoint_format
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
                             swapped=swapped.reshape(F, P, swapped.shape[1], C),
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
