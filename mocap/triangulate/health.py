"""Nothing silently wrong: the health of each camera after triangulation, and why a take
reconstructed no one.

A camera that contributes (almost) nothing to the 3D keypoints is usually a setup mistake: a
wrong rotation in the calibration, detections made at another resolution than the
calibration's image size, keypoints outside the image. :func:`camera_health` measures, for
every camera, the share of the joints it saw that the triangulation used, the median
reprojection error of its detections, where its detections lie against the calibration's
image size and how many of the points it saw lie behind it; :meth:`CameraHealth.problem`
names the likely cause. :func:`nobody_reason` says why no person has any reconstructed joint.

Pure functions of arrays (detections, 3D points, the rig as :class:`calibration.RigArrays`).
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import numpy as np

from calibration import RigArrays

from ..errors import TriangulationError

log = logging.getLogger(__name__)

__all__ = ["MIN_SHARE_USED", "CameraHealth", "detected", "reprojection_errors",
           "nearest_errors", "camera_health",
           "health_problems", "health_table", "nobody_reason", "check_reconstructed",
           "triangulation_health", "cameras_health", "report_health"]

#: A camera used for less than this share of the joints it saw contributes (almost) nothing.
MIN_SHARE_USED = 0.2
#: Detections beyond this multiple of the calibration's image size are outside the image.
EXTENT_TOLERANCE = 1.05
#: A camera with more than this share of the triangulated points behind it looks the wrong way.
BEHIND_SHARE = 0.5


@dataclass(frozen=True)
class CameraHealth:
    """How much one camera contributed to a triangulation.

    Attributes:
        camera: its name. joints_seen: its detections (frame x person x joint) at or above
            ``min_conf``. joints_used: those the triangulation used.
        median_reproj_px: median distance, pixels, between its detections and the
            projection of their triangulated points (NaN when none projects in front of it).
        behind_share: share of the triangulated points (every person's) that lie behind it.
        extent_min_xy, extent_max_xy: (x, y) corners of the box around its detections,
            pixels (NaN when it has none). size_wh: the calibration's (width, height).
        min_conf: the confidence threshold that defines a detection here.
    """

    camera: str
    joints_seen: int
    joints_used: int
    median_reproj_px: float
    behind_share: float
    extent_min_xy: tuple[float, float]
    extent_max_xy: tuple[float, float]
    size_wh: tuple[int, int]
    min_conf: float

    @property
    def share_used(self) -> float:
        """joints_used / joints_seen (0 when it saw none)."""
        return self.joints_used / self.joints_seen if self.joints_seen else 0.0

    @property
    def ok(self) -> bool:
        """Whether it contributed: used for at least :data:`MIN_SHARE_USED` of its joints."""
        return self.joints_seen > 0 and self.share_used >= MIN_SHARE_USED

    def outside_image(self) -> bool:
        """Whether its detections reach beyond the calibration's image."""
        lo, hi = np.array(self.extent_min_xy), np.array(self.extent_max_xy)
        size = np.array(self.size_wh, float)
        margin = (EXTENT_TOLERANCE - 1.0) * size
        return bool(np.any(hi > size - 0.5 + margin) or np.any(lo < -0.5 - margin))

    def cause(self) -> str:
        """The likely cause of a camera that contributes (almost) nothing."""
        if self.joints_seen == 0:
            return f"it has no detection at or above min_conf = {self.min_conf:g}"
        w, h = self.size_wh
        hi_x, hi_y = self.extent_max_xy
        if self.outside_image():
            if hi_x > w * EXTENT_TOLERANCE or hi_y > h * EXTENT_TOLERANCE:
                return (f"its detections extend to {hi_x:.0f} x {hi_y:.0f} px but the "
                        f"calibration says {w} x {h}: were they made at another resolution?")
            lo_x, lo_y = self.extent_min_xy
            return (f"its detections reach ({lo_x:.0f}, {lo_y:.0f}) px, outside the "
                    f"calibration's {w} x {h} image: are they of this camera?")
        if hi_x <= w * EXTENT_TOLERANCE / 2 and hi_y <= h * EXTENT_TOLERANCE / 2:
            return (f"its detections all lie within {hi_x:.0f} x {hi_y:.0f} px of the "
                    f"calibration's {w} x {h} image: were they made at a lower resolution?")
        if self.behind_share > BEHIND_SHARE:
            return (f"{100 * self.behind_share:.0f} % of the triangulated points lie behind it: "
                    f"it looks the wrong way: check its rotation")
        return ("its detections do not agree with the other cameras': check its calibration "
                "(rotation, position, lens) and that the detections are of this camera")

    def problem(self) -> "str | None":
        """One line naming the camera and the likely cause, or None when it contributed."""
        if self.ok:
            return None
        err = (f"median reprojection {self.median_reproj_px:.0f} px"
               if np.isfinite(self.median_reproj_px) else "no reprojection in front of it")
        return (f"{self.camera}: used for {100 * self.share_used:.0f} % of its "
                f"{self.joints_seen:,} joints, {err}; {self.cause()}")

    def as_dict(self) -> dict:
        """JSON-ready: the fields, ``share_used``, ``ok`` and ``problem``."""
        d = asdict(self)
        for k in ("median_reproj_px", "behind_share"):
            d[k] = _finite(d[k])
        for k in ("extent_min_xy", "extent_max_xy"):
            d[k] = [_finite(v) for v in d[k]]
        d["size_wh"] = [int(v) for v in d["size_wh"]]
        return {**d, "share_used": self.share_used, "ok": self.ok, "problem": self.problem()}


def _finite(v: float) -> "float | None":
    v = float(v)
    return v if np.isfinite(v) else None


def detected(xy: np.ndarray, conf: np.ndarray, min_conf: float) -> np.ndarray:
    """(C, F, P, J) bool: a detection at or above ``min_conf`` (xy (C, F, P, J, 2) px)."""
    return (conf >= min_conf) & (conf > 0) & np.isfinite(xy).all(-1)


def reprojection_errors(rig: RigArrays, xyz: np.ndarray, xy: np.ndarray,
                        chunk: int = 8192) -> tuple[np.ndarray, np.ndarray]:
    """Pixel distance from each detection to its point's projection (full lens model), and
    the point's depth in each camera, frame block by frame block (about ``chunk`` points a
    block, so that the lens model's temporaries stay in the cache).

    Args:
        rig: the cameras (C). xyz: (F, P, J, 3) world metres, NaN = missing.
        xy: (C, F, P, J, 2) detections, pixels, NaN = missing.
    Returns:
        err (C, F, P, J) pixels (NaN where either is missing or the point is behind the
        camera) and depth (C, F, P, J) metres.
    """
    F = xyz.shape[0]
    step = max(1, chunk // max(1, int(np.prod(xyz.shape[1:-1]))))
    err, depth = np.empty(xy.shape[:-1]), np.empty(xy.shape[:-1])
    for a in range(0, F, step):
        proj, depth[:, a:a + step] = rig.project(xyz[a:a + step])
        err[:, a:a + step] = np.linalg.norm(proj - xy[:, a:a + step], axis=-1)
    return err, depth


def nearest_errors(proj: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Distance, pixels, from each detection of one camera to the nearest reprojection of
    the same joint of any person in the same frame.

    Args:
        proj: (F, P, J, 2) the triangulated people projected into the camera, pixels.
        xy: (F, S, J, 2) its detections (S skeletons per frame, in any order), pixels.
    Returns:
        (F, S, J) distances, NaN where there is nothing to compare.
    """
    best = np.full(xy.shape[:3], np.nan)
    for p in range(proj.shape[1]):
        best = np.fmin(best, np.linalg.norm(proj[:, p, None] - xy, axis=-1))
    return best


def _box(xy: np.ndarray) -> tuple[tuple[float, float], tuple[float, float]]:
    """(min (x, y), max (x, y)) of (N, 2) pixels; NaN when N = 0."""
    if not len(xy):
        return (float("nan"),) * 2, (float("nan"),) * 2
    lo, hi = xy.min(0), xy.max(0)
    return (float(lo[0]), float(lo[1])), (float(hi[0]), float(hi[1]))


def camera_health(rig: RigArrays, camera_names, xy: np.ndarray, conf: np.ndarray,
                  xyz: np.ndarray, views_used: "np.ndarray | None", min_conf: float,
                  reproj_threshold_px: float = 15.0, all_xy: "np.ndarray | None" = None,
                  all_conf: "np.ndarray | None" = None) -> tuple[CameraHealth, ...]:
    """Each camera's contribution to a triangulation.

    Args:
        rig: the calibration as arrays (C cameras). camera_names: (C,) their names.
        xy: (C, F, P, J, 2) the detections triangulated (slot p = person p), image pixels,
            NaN = missing. conf: (C, F, P, J) their confidences in [0, 1].
        xyz: (F, P, J, 3) the triangulated points, world metres, NaN = missing.
        views_used: (F, P, J, C) bool, the views each point used; None: a view counts as
            used where its reprojection error is within ``reproj_threshold_px``.
        min_conf: detections below this confidence are not counted.
        all_xy, all_conf: (C, F, S, J, 2) and (C, F, S, J): every detection, before
            association kept some of them as people (None: ``xy``, ``conf``). A camera none
            of whose detections association kept saw these joints, and used none of them;
            its extent is theirs.
    Returns:
        one :class:`CameraHealth` per camera, in the rig's order.
    """
    all_xy, all_conf = (xy, conf) if all_xy is None else (all_xy, all_conf)
    seen, seen_all = detected(xy, conf, min_conf), detected(all_xy, all_conf, min_conf)
    xyz = np.asarray(xyz, float)
    err, depth = reprojection_errors(rig, xyz, xy)              # (C, F, P, J) each
    proj = None
    if views_used is not None:
        used = np.moveaxis(np.asarray(views_used, bool), -1, 0) & seen
    else:
        used = seen & (err <= reproj_threshold_px)
    known = np.isfinite(xyz).all(-1)
    out = []
    for c, name in enumerate(camera_names):
        if seen[c].any():
            n_seen, e = int(seen[c].sum()), err[c][seen[c]]
        else:
            n_seen = int(seen_all[c].sum())
            proj = rig.project(xyz)[0] if proj is None else proj      # (C, F, P, J, 2)
            e = nearest_errors(proj[c], all_xy[c])[seen_all[c]]
        e = e[np.isfinite(e)]
        behind = float((depth[c][known] <= 0).mean()) if known.any() else 0.0
        out.append(CameraHealth(str(name), n_seen, int(used[c].sum()),
                                float(np.median(e)) if e.size else float("nan"), behind,
                                *_box(all_xy[c][seen_all[c]]),
                                tuple(int(v) for v in rig.size_wh[c]), float(min_conf)))
    return tuple(out)


def health_problems(health) -> list[str]:
    """One line per camera that contributes (almost) nothing (empty when all did)."""
    return [p for p in (h.problem() for h in health) if p]


def health_table(health) -> dict:
    """The health as JSON: ``{"cameras": [CameraHealth.as_dict(), ...], "problems": [...]}``."""
    return {"cameras": [h.as_dict() for h in health], "problems": health_problems(health)}


def nobody_reason(xy: np.ndarray, conf: np.ndarray, min_conf: float, min_views: int,
                  reproj_threshold_px: float, health=()) -> str:
    """Why no person has any triangulated joint.

    Args:
        xy: (C, F, P, J, 2) detections, pixels. conf: (C, F, P, J).
        min_conf, min_views, reproj_threshold_px: the ``[triangulate]`` settings.
        health: the cameras' :class:`CameraHealth`, to name the suspicious ones.
    """
    C = conf.shape[0]
    if conf.size == 0:
        return "no person was detected (or kept by association) in any camera"
    valid = detected(xy, conf, min_conf)
    if not valid.any():
        return (f"no detection reaches [triangulate] min_conf = {min_conf:g} (the highest "
                f"confidence is {float(np.nanmax(conf)):.2f})")
    views = valid.sum(0)
    if views.max() < min_views:
        return (f"no joint is seen by [triangulate] min_views = {min_views} cameras at or above "
                f"min_conf = {min_conf:g} (at most {int(views.max())} of {C})")
    bad = health_problems(health)
    return (f"{int((views >= min_views).sum()):,} joints are seen by {min_views} cameras or "
            f"more, but their views do not agree within reproj_threshold_px = "
            f"{reproj_threshold_px:g}: check the calibration"
            + (f" ({'; '.join(bad)})" if bad else ""))


def check_reconstructed(xyz: np.ndarray, xy: np.ndarray, conf: np.ndarray, settings,
                        health=()) -> None:
    """Raise :class:`TriangulationError`, saying why, when no person has any reconstructed
    joint.

    Args:
        xyz: (F, P, J, 3) the triangulated points, NaN = missing. xy, conf: the detections
            (C, F, P, J, 2) and (C, F, P, J). settings: the ``[triangulate]`` settings.
        health: the cameras' :class:`CameraHealth` (named in the message when suspicious).
    """
    if np.isfinite(xyz).all(-1).any():
        return
    why = nobody_reason(xy, conf, settings.min_conf, settings.min_views,
                        settings.reproj_threshold_px, health)
    raise TriangulationError(f"nothing reconstructed: no person has any triangulated joint: "
                             f"{why}")


def triangulation_health(det, rig, points, settings, all_det=None) -> dict:
    """Check a triangulation: raise when it reconstructed no one, warn (log) naming each
    camera that contributes (almost) nothing and its likely cause.

    Args:
        det: the :class:`~mocap.types.Detections2D` triangulated. rig: the
            :class:`calibration.Rig`. points: the :class:`~mocap.types.Points3D` result.
        settings: the ``[triangulate]`` settings. all_det: every detection, before
            association (None: ``det``; see :func:`camera_health`).
    Returns:
        the health table (:func:`health_table`) for ``out/cameras.json``.
    Raises:
        TriangulationError: no person has any reconstructed joint, saying why.
    """
    return report_health(det, points, settings,
                         cameras_health(det, rig, points, settings, all_det))


def cameras_health(det, rig, points, settings, all_det=None) -> tuple:
    """The computation of :func:`triangulation_health` alone (no check, no log): one
    :class:`CameraHealth` per camera (arguments as there)."""
    every = det if all_det is None else all_det
    return camera_health(rig.arrays(), rig.names, det.xy, det.conf, points.xyz,
                         points.views_used, settings.min_conf, settings.reproj_threshold_px,
                         every.xy, every.conf)


def report_health(det, points, settings, health) -> dict:
    """The rest of :func:`triangulation_health` on its :func:`cameras_health`: raise when no
    one was reconstructed, warn about each camera contributing (almost) nothing; returns the
    health table.

    Raises:
        TriangulationError: no person has any reconstructed joint, saying why.
    """
    check_reconstructed(points.xyz, det.xy, det.conf, settings, health)
    for problem in health_problems(health):
        log.warning(problem)
    return health_table(health)
