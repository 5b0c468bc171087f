"""Cameras calibrated from a person walking through the volume, with no board and no prior
extrinsics (``mocap calibrate SESSION --from-people``; the session's files are
:mod:`mocap.app.calibrate_people`).

Pure: intrinsics, 2D detections and the person's height in; a metric, levelled rig and report
data out. The steps:

1. one person per view: a camera's detection is used in a frame where it sees exactly one
   person (two or more there: that camera's frame is left out of the first rig, the
   identities being unknown before the cameras are);
2. coverage: every camera must see the person at the same instant as another camera in at
   least :data:`MIN_SHARED_FRAMES` frames (else a one-line error naming the camera);
3. the cameras from the keypoints (:func:`calibration.bootstrap.bootstrap_rig`: essential
   matrices, camera graph, PnP), then bundle adjusted
   (:func:`calibration.people.refine_from_keypoints`); when some views show several people,
   that rig associates everyone across the views (:mod:`mocap.associate`) and the keypoints
   of all the people refine it again (:func:`refine_with_everyone`);
4. metric scale from the person's height: the median lengths of the shins, thighs, trunk
   (mid-hips to mid-shoulders) and head (mid-shoulders to mid-eyes) sum to
   :data:`STATURE_CHAIN_OF_HEIGHT` of the standing height; each segment is checked against
   its share (:data:`SEGMENT_SHARES`);
5. the floor and Z up from the feet (:func:`mocap.people_calibration.level_rig`; origin
   under the person's mean standing position), then X along the first camera's view
   projected on the floor.

World frame right-handed, Z up, metres.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace

import numpy as np

from calibration import Rig
from calibration.bootstrap import BootstrapOptions, PairPose, bootstrap_rig
from calibration.errors import InsufficientDataError
from calibration.focal import FocalSweep, centred_cameras, sweep_focal
from calibration.people import KeypointRefineOptions, KeypointRefineResult, refine_from_keypoints
from calibration.world import transform_points, transform_rig

from .associate import identify_people
from .errors import SessionError
from .people_calibration import idx_of, level_rig
from .settings import AssociateSettings, TriangulateSettings
from .triangulate import triangulate
from .types import Detections2D, Points3D

log = logging.getLogger(__name__)

__all__ = ["MIN_SHARED_FRAMES", "MIN_JOINTS", "SEGMENT_SHARES", "STATURE_CHAIN_OF_HEIGHT",
           "PROPORTION_SPREAD", "one_person_per_view", "check_coverage", "Stature",
           "stature", "x_along_first_camera", "PeopleCalibration", "calibrate_from_people",
           "from_people_report", "estimated_intrinsics", "intrinsics_report",
           "refine_with_everyone"]

#: Fewest frames in which each camera must see the person together with another camera.
MIN_SHARED_FRAMES = 30
#: A camera sees the person in a frame when at least this many joints are confident.
MIN_JOINTS = 6
#: Lengths of the body's vertical chain as shares of the standing height (floor to the top of
#: the head): shin (ankle-knee), thigh (knee-hip), trunk (mid-hips to mid-shoulders), head
#: (mid-shoulders to mid-eyes), from the proportions after Drillis & Contini / Winter that the
#: virtual studio's body uses (tests/mocap/test_people_bootstrap.py checks them against it).
SEGMENT_SHARES = {"shin": 0.2465, "thigh": 0.2455, "trunk": 0.2876, "head": 0.1483}
STATURE_CHAIN_OF_HEIGHT = sum(SEGMENT_SHARES.values())
#: Assumed relative spread of the chain's share of the standing height between adults (the
#: studio's bodies, 3 % jitter per segment: 0.08 %; real people vary more).
PROPORTION_SPREAD = 0.01
#: A segment whose implied height differs from the chain's by more than this share is named
#: in a warning (a wrong keypoint format, left/right swaps, a child).
SEGMENT_TOLERANCE = 0.15


def one_person_per_view(det: Detections2D, min_conf: float) -> tuple[np.ndarray, np.ndarray, int]:
    """Each camera's keypoints in the frames where it sees exactly one person.

    Returns:
        ``(xy (C, F, J, 2), conf (C, F, J), dropped)``: NaN / 0 where the camera sees nobody
        or several people (``dropped`` counts those camera frames with several).
    """
    C, F, P, J = det.conf.shape
    seen = np.sum(np.nan_to_num(det.conf) >= min_conf, axis=-1) >= MIN_JOINTS      # (C, F, P)
    n = seen.sum(axis=-1)
    who = np.argmax(seen, axis=-1)                                                 # (C, F)
    xy = np.take_along_axis(det.xy, who[:, :, None, None, None], axis=2)[:, :, 0]
    conf = np.take_along_axis(det.conf, who[:, :, None, None], axis=2)[:, :, 0].astype(float)
    one = n == 1
    xy = np.where(one[..., None, None], xy, np.nan)
    conf = np.where(one[..., None], np.nan_to_num(conf), 0.0)
    dropped = int(np.sum(n > 1))
    if dropped:
        log.info("%d camera frames show several people: left out of the first rig (the people "
                 "are told apart once the cameras are known, then used)", dropped)
    return xy, conf, dropped


def check_coverage(conf: np.ndarray, names, min_conf: float,
                   min_frames: int = MIN_SHARED_FRAMES) -> np.ndarray:
    """(C,) frames in which each camera sees the person with another camera.

    Raises:
        InsufficientDataError: naming the first camera that sees nobody, the only camera
            that sees the person, a camera that never sees the person with another, or one
            that does in fewer than ``min_frames`` frames.
    """
    seen = np.sum(conf >= min_conf, axis=-1) >= MIN_JOINTS                       # (C, F)
    F = seen.shape[1]
    alone = np.flatnonzero(seen.any(axis=1))
    if alone.size == 1:
        c = int(alone[0])
        raise InsufficientDataError(
            names[c], f"the only camera that sees the person ({seen[c].sum()} of {F} frames; "
            f"{', '.join(n for i, n in enumerate(names) if i != c)}: none), expected at least "
            "two cameras to see them at the same time")
    shared = np.sum(seen & (seen.sum(axis=0) >= 2)[None], axis=1)
    for c, name in enumerate(names):
        if not seen[c].any():
            raise InsufficientDataError(name, f"sees no person in any of the {F} frames "
                                              f"(at least {MIN_JOINTS} confident joints)")
        if shared[c] == 0:
            raise InsufficientDataError(
                name, f"never sees the person at the same time as another camera (sees them "
                f"in {seen[c].sum()} of {F} frames), expected at least {min_frames} frames shared")
        if shared[c] < min_frames:
            raise InsufficientDataError(
                name, f"sees the person together with another camera in {shared[c]} frames, "
                f"expected at least {min_frames} (a longer walk through the whole volume)")
    return shared


@dataclass(frozen=True)
class Stature:
    """A person's standing height measured in a rig's units.

    Attributes:
        height: the height implied by the body's vertical chain (rig units).
        segments: each segment's median length (rig units).
        implied: each segment's implied height (its length over its share).
        relative_se: statistical standard error of ``height`` (share of it), over the frames.
    """

    height: float
    segments: dict
    implied: dict
    relative_se: float


def _segment_lengths(X: np.ndarray, names: list) -> dict:
    """(F,) lengths per frame of each chain segment of keypoints ``X`` (F, J, 3)."""
    def mid(n):
        return X[:, idx_of(names, (f"left_{n}", f"right_{n}"))].mean(axis=1)

    def side(a, b):
        return np.mean([np.linalg.norm(X[:, names.index(f"{s}_{a}")] - X[:, names.index(f"{s}_{b}")],
                                       axis=-1) for s in ("left", "right")], axis=0)
    return {"shin": side("ankle", "knee"), "thigh": side("knee", "hip"),
            "trunk": np.linalg.norm(mid("hip") - mid("shoulder"), axis=-1),
            "head": np.linalg.norm(mid("shoulder") - mid("eye"), axis=-1)}


def stature(points: Points3D) -> Stature:
    """The standing height of the person (person 0) in ``points``, in their units.

    Raises:
        SessionError: a keypoint format without ankles, knees, hips, shoulders and eyes, or
            too few frames where they are all triangulated.
    """
    names = list(points.joint_names)
    need = [f"{s}_{j}" for j in ("ankle", "knee", "hip", "shoulder", "eye") for s in ("left", "right")]
    missing = [n for n in need if n not in names]
    if missing:
        raise SessionError(f"scale from the person's height: expected keypoints {need}, the "
                           f"format {points.format!r} has none for {missing}")
    lengths = _segment_lengths(np.asarray(points.xyz[:, 0], dtype=np.float64), names)
    ok = np.all([np.isfinite(v) for v in lengths.values()], axis=0)
    if ok.sum() < 10:
        raise SessionError(f"scale from the person's height: expected at least 10 frames with "
                           f"the legs, hips, shoulders and eyes triangulated, found {ok.sum()}")
    med = {k: float(np.median(v[ok])) for k, v in lengths.items()}
    height = sum(med.values()) / STATURE_CHAIN_OF_HEIGHT
    chain = np.sum([v[ok] for v in lengths.values()], axis=0)
    se = 1.2533 * float(np.std(chain)) / math.sqrt(ok.sum()) / float(np.median(chain))
    implied = {k: v / SEGMENT_SHARES[k] for k, v in med.items()}
    off = {k: v / height - 1 for k, v in implied.items() if abs(v / height - 1) > SEGMENT_TOLERANCE}
    if off:
        log.warning("body proportions off the textbook's: %s (implied height vs the chain's); "
                    "the scale may be off", ", ".join(f"{k} {100 * v:+.0f} %" for k, v in off.items()))
    return Stature(height, med, implied, se)


def x_along_first_camera(rig: Rig) -> np.ndarray:
    """(4, 4) the turn about Z that takes the first camera's view, projected on the floor,
    to +X."""
    d = rig[0].R_cam_from_world.T @ np.array([0.0, 0.0, 1.0])
    a = math.atan2(d[1], d[0])
    T = np.eye(4)
    T[:2, :2] = [[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]]
    return T


@dataclass(frozen=True)
class PeopleCalibration:
    """A rig calibrated from people.

    Attributes:
        rig: metric, Z up, origin under the person, X along the first camera's view.
        refined: the bundle adjustment (per-camera reprojection errors).
        pairs: the camera graph's edges.
        stature: the person's height as measured before scaling (rig units).
        scale: metres per unit of the bootstrapped rig.
        scale_uncertainty: relative standard uncertainty of the scale (share).
        tilt_deg: angle between the up found and the bootstrapped frame's Z (the optical axis
            of the first pair's first camera), degrees.
        dropped_views: camera frames showing several people (left out of the first rig).
        people_associated: with views of several people: the people found by the
            association with the first rig, all of whose keypoints refined it (0: none).
        focal_sweep: the shared focal length found before the bundle adjustment, when the
            intrinsics were estimated (else None); the refined focal lengths are the rig's,
            their standard deviations ``refined.focal_sd_px``.
    """

    rig: Rig
    refined: KeypointRefineResult
    pairs: list
    stature: Stature
    scale: float
    scale_uncertainty: float
    tilt_deg: float
    dropped_views: int
    focal_sweep: "FocalSweep | None" = None
    people_associated: int = 0


def estimated_intrinsics(cameras, xy: np.ndarray, conf: np.ndarray,
                         options: BootstrapOptions) -> tuple[tuple, FocalSweep]:
    """Cameras with the names and image sizes of ``cameras`` and a focal length found from
    the keypoints (:func:`calibration.focal.sweep_focal`: principal point at the centre, no
    distortion yet; the bundle adjustment refines each focal and k1)."""
    names = [c.name for c in cameras]
    sizes = [c.size_wh for c in cameras]
    sweep = sweep_focal(names, sizes, xy, conf, options)
    return centred_cameras(names, sizes, [sweep.ratio * w for w, _ in sizes]), sweep


def refine_with_everyone(rig: Rig, det: Detections2D, settings: AssociateSettings,
                         refine: KeypointRefineOptions) -> tuple[KeypointRefineResult, int]:
    """The rig refined from every person of the take: the people told apart across views by
    the association (:func:`mocap.associate.identify_people`) with ``rig`` (found from the
    views of one person), then the keypoints of all of them, as points of one bundle
    adjustment (the rig's frame and scale kept).

    Returns:
        The refinement and the number of people associated.
    """
    people, ids = identify_people(det, rig, settings)
    C, F, P, J = people.conf.shape
    xy = np.asarray(people.xy, dtype=np.float64).reshape(C, F, P * J, 2)
    conf = np.nan_to_num(np.asarray(people.conf, dtype=np.float64)).reshape(C, F, P * J)
    log.info("refining from everyone: %d people associated across the views", ids.num_people)
    return refine_from_keypoints(rig, xy, conf, refine), int(ids.num_people)


def calibrate_from_people(cameras, det: Detections2D, height_m: float,
                          height_sd_m: float = 0.01,
                          options: BootstrapOptions = BootstrapOptions(),
                          triangulate_settings: TriangulateSettings = TriangulateSettings(),
                          estimate_intrinsics: bool = False,
                          associate_settings: AssociateSettings = AssociateSettings(),
                          ) -> PeopleCalibration:
    """Calibrate a rig's poses from a person walking through the volume (module docstring).

    Args:
        cameras: C cameras with known intrinsics (poses ignored), the order of ``det``'s;
            with ``estimate_intrinsics`` only their names and image sizes are used.
        det: the take's 2D detections (C, F, P, J).
        height_m: the person's standing height, metres; height_sd_m: its uncertainty.
        estimate_intrinsics: the focal lengths are unknown: found by a sweep, then one per
            camera with k1 in the bundle adjustment (principal point at the image centre).
        associate_settings: how people are told apart across views when some views show
            several: the rig found from the views of one person associates them, then
            everyone's keypoints refine it (:func:`refine_with_everyone`).

    Raises:
        InsufficientDataError: a camera seeing too little of the person (named).
        SessionError: a keypoint format without the joints the scale needs.
    """
    names = [c.name for c in cameras]
    xy, conf, dropped = one_person_per_view(det, options.min_conf)
    check_coverage(conf, names, options.min_conf)
    sweep = None
    if estimate_intrinsics:
        cameras, sweep = estimated_intrinsics(cameras, xy, conf, options)
    rig0, pairs = bootstrap_rig(cameras, xy, conf, options)
    refine = KeypointRefineOptions(seed=options.seed, refine_focal=estimate_intrinsics,
                                   refine_k1=estimate_intrinsics)
    refined = refine_from_keypoints(rig0, xy, conf, refine)
    people = 0
    if dropped:
        refined, people = refine_with_everyone(refined.rig, det, associate_settings, refine)
    single = replace(det, xy=xy[:, :, None], conf=conf[:, :, None].astype(np.float32),
                     heatmaps=None, heatmap_affine=None)
    points = triangulate(single, refined.rig, triangulate_settings)
    st = stature(points)
    s = height_m / st.height
    rig = transform_rig(refined.rig, np.eye(4), s)
    metric = replace(points, xyz=transform_points(points.xyz, np.eye(4), s))
    levelled = level_rig(rig, metric)
    rig = transform_rig(levelled.rig, x_along_first_camera(levelled.rig))
    unc = math.sqrt(st.relative_se**2 + (height_sd_m / height_m) ** 2 + PROPORTION_SPREAD**2)
    log.info("scale from a height of %.3f m: %.4f m per unit (+- %.2f %%)", height_m, s, 100 * unc)
    return PeopleCalibration(rig, refined, pairs, st, s, unc, levelled.tilt_deg, dropped, sweep,
                             people)


def _edge(p: PairPose, names) -> dict:
    return {"cameras": [names[p.a], names[p.b]], "shared_points": p.shared,
            "inliers": p.inliers, "parallax_deg": round(p.parallax_deg, 2)}


def from_people_report(cal: PeopleCalibration, height_m: float) -> dict:
    """The calibration as report data: camera poses, per-camera reprojection error, the scale
    and its uncertainty, the body's segments, the camera graph."""
    names = cal.rig.names
    return {
        "height_m": height_m, "scale_m_per_unit": cal.scale,
        "scale_uncertainty_percent": 100 * cal.scale_uncertainty,
        "scale_statistical_percent": 100 * cal.stature.relative_se,
        "segments_m": {k: v * cal.scale for k, v in cal.stature.segments.items()},
        "segment_implied_height_m": {k: v * cal.scale for k, v in cal.stature.implied.items()},
        "up_from_first_pair_axis_deg": cal.tilt_deg, "points_used": cal.refined.points_used,
        "views_with_several_people": cal.dropped_views,
        "people_associated": cal.people_associated,
        "cameras": [{"name": n, "centre_m": [round(float(v), 4) for v in c.center],
                     "rvec": [float(v) for v in c.rvec],
                     "reprojection_error_px": float(e)}
                    for n, c, e in zip(names, cal.rig, cal.refined.error_after_px)],
        "camera_graph": [_edge(p, names) for p in cal.pairs],
        "intrinsics": intrinsics_report(cal),
    }


def intrinsics_report(cal: PeopleCalibration) -> dict:
    """Where the intrinsics came from; when estimated, each camera's focal length and k1 with
    their standard deviations (the bundle adjustment's covariance) and the sweep's first
    guess."""
    if cal.focal_sweep is None:
        return {"source": "calibration file"}
    r = cal.refined
    return {
        "source": "estimated from the people (principal point at the image centre)",
        "sweep_focal_over_width": cal.focal_sweep.ratio,
        "sweep_median_reprojection_px": cal.focal_sweep.score_px,
        "cameras": [{"name": c.name, "focal_px": float(c.K[0, 0]),
                     "focal_sd_px": float(r.focal_sd_px[i]) if r.focal_sd_px is not None else None,
                     "k1": float(c.dist[0]),
                     "k1_sd": float(r.k1_sd[i]) if r.k1_sd is not None else None}
                    for i, c in enumerate(cal.rig)],
    }
