"""Cameras found from points seen by several of them, with no board and no prior extrinsics
(a pure function: intrinsics and 2D points in, a rig in an arbitrary frame out).

The points are any points seen by several cameras at the same instant: (C, F, J, 2) pixels,
NaN where unseen (people's keypoints over the frames of a take, see
:mod:`mocap.people_bootstrap`). The steps:

1. every pair of cameras: a robust essential matrix (OpenCV's USAC MAGSAC) on the points both
   see, in undistorted normalised coordinates, and the relative pose from it
   (``cv2.recoverPose``); a pair is an edge of the camera graph when it shares enough points;
2. the best-conditioned edge starts the rig: most inliers times the sine of the median
   angle between the two rays of its points (a short baseline triangulates poorly); its
   baseline is length 1;
3. the other cameras are registered one at a time, the one that sees most of the points
   triangulated so far first, by PnP (RANSAC, then Levenberg-Marquardt) on those points; the
   points are triangulated again with every camera registered (a camera graph grown from the
   best edge outwards);
4. the caller refines the result by bundle adjustment
   (:func:`calibration.people.refine_from_keypoints`).

The rig's world frame is the first registered camera's, its scale the first baseline: a
metric scale and a floor need more than images (a person's height, see
:mod:`mocap.people_bootstrap`).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

from calibration.errors import InsufficientDataError
from calibration.people import triangulate_normalized
from calibration.rig import Rig

log = logging.getLogger(__name__)

__all__ = ["BootstrapOptions", "PairPose", "relative_pose", "pair_poses", "check_connected",
           "first_pair", "register_cameras", "bootstrap_rig", "normalized_points",
           "triangulate_registered", "pnp_pose"]


@dataclass(frozen=True)
class BootstrapOptions:
    """How cameras are found from points."""

    min_conf: float = 0.5
    """Points below this confidence are not used (keypoints: the confident joints)."""
    min_shared: int = 50
    """Fewest points two cameras must both see to be an edge of the camera graph."""
    ransac_px: float = 3.0
    """Inlier threshold of the essential matrix and of PnP, pixels."""
    max_pair_points: int = 4000
    """At most this many points (drawn at random) per essential matrix."""
    max_points: int = 8000
    """At most this many points (drawn at random) are triangulated for registration."""
    max_reproj_px: float = 10.0
    """Triangulated points reprojecting worse than this (pixels) are not used for PnP."""
    essential_iterations: int = 5000
    """Most RANSAC iterations of each pair's essential matrix."""
    pnp_iterations: int = 2000
    """Most RANSAC iterations of each camera's PnP."""
    seed: int = 0
    """Seed of the random draws."""


@dataclass(frozen=True)
class PairPose:
    """The relative pose of two cameras from their shared points.

    Attributes:
        a, b: camera indices (rig order), a < b.
        R_b_from_a: (3, 3) rotation of camera a's frame into camera b's.
        t_b_from_a: (3,) unit translation (``X_b = R X_a + t``, scale unknown).
        shared: points both cameras see. inliers: points consistent with the pose.
        parallax_deg: median angle between the two rays of the inliers, degrees.
    """

    a: int
    b: int
    R_b_from_a: np.ndarray
    t_b_from_a: np.ndarray
    shared: int
    inliers: int
    parallax_deg: float

    @property
    def score(self) -> float:
        """How well the pair is conditioned: inliers times the sine of the parallax (capped
        at 30 degrees)."""
        return self.inliers * float(np.sin(np.radians(min(self.parallax_deg, 30.0))))


def normalized_points(cameras, xy: np.ndarray, conf: np.ndarray,
                      min_conf: float) -> tuple[np.ndarray, np.ndarray]:
    """Undistorted normalised coordinates (C, N, 2) of pixels ``xy`` (C, N, 2), and whether
    each is seen (C, N) bool: finite, undistortable and confidence >= ``min_conf``."""
    xn = np.stack([cam.undistort_points(xy[c]) for c, cam in enumerate(cameras)])
    seen = np.isfinite(xn).all(axis=-1) & (np.nan_to_num(conf) >= min_conf)
    return np.where(seen[..., None], xn, np.nan), seen


def relative_pose(xa: np.ndarray, xb: np.ndarray, threshold: float, seed: int = 0,
                  iterations: int = 5000):
    """Relative pose from (N, 2) matching normalised coordinates of two cameras.

    Args:
        threshold: inlier threshold in normalised units (pixels over the focal length).

    Returns:
        ``(R_b_from_a (3, 3), t_b_from_a (3,) unit, inliers (N,) bool)`` or None when no
        essential matrix is found.
    """
    cv2.setRNGSeed(seed)
    E, mask = cv2.findEssentialMat(xa, xb, np.eye(3), method=cv2.USAC_MAGSAC, prob=0.9999,
                                   threshold=threshold, maxIters=iterations)
    if E is None or E.shape != (3, 3):
        return None
    _, R, t, mask = cv2.recoverPose(E, xa, xb, np.eye(3), mask=mask.copy())
    return R, t[:, 0] / np.linalg.norm(t), mask[:, 0] > 0


def _parallax_deg(xa, xb, R) -> float:
    """Median angle (degrees) between the rays of matching normalised points, both in
    camera b's frame."""
    ra = np.c_[xa, np.ones(len(xa))] @ R.T
    rb = np.c_[xb, np.ones(len(xb))]
    cos = np.sum(ra * rb, axis=1) / np.linalg.norm(ra, axis=1) / np.linalg.norm(rb, axis=1)
    return float(np.degrees(np.median(np.arccos(np.clip(cos, -1.0, 1.0)))))


def pair_poses(xn: np.ndarray, seen: np.ndarray, focal_px: np.ndarray,
               options: BootstrapOptions = BootstrapOptions(), only=None) -> list[PairPose]:
    """The relative pose of every pair of cameras sharing at least ``options.min_shared``
    points.

    Args:
        xn: (C, N, 2) normalised coordinates; seen: (C, N) bool (see
            :func:`normalized_points`); focal_px: (C,) focal lengths (for the threshold).
        only: the pairs ``(a, b)``, a < b, to try (None: all).
    """
    C = xn.shape[0]
    rng = np.random.default_rng(options.seed)
    out = []
    for a in range(C):
        for b in range(a + 1, C):
            if only is not None and (a, b) not in only:
                continue
            both = np.flatnonzero(seen[a] & seen[b])
            if both.size < max(options.min_shared, 8):
                continue
            pick = both if both.size <= options.max_pair_points else \
                rng.choice(both, options.max_pair_points, replace=False)
            thr = options.ransac_px / float(np.sqrt(focal_px[a] * focal_px[b]))
            found = relative_pose(xn[a, pick], xn[b, pick], thr, options.seed,
                                  options.essential_iterations)
            if found is None:
                continue
            R, t, inl = found
            if inl.sum() < 8:
                continue
            par = _parallax_deg(xn[a, pick[inl]], xn[b, pick[inl]], R)
            out.append(PairPose(a, b, R, t, int(both.size), int(inl.sum() * both.size / pick.size),
                                par))
            log.debug("cameras %d-%d: %d shared points, %.0f %% inliers, parallax %.1f deg",
                     a, b, both.size, 100 * inl.mean(), par)
    return out


def check_connected(pairs: list[PairPose], names, seen: np.ndarray, min_shared: int) -> None:
    """Raise when some camera is not linked to the first through edges of the graph.

    Raises:
        InsufficientDataError: naming the camera cut off, how many points it shares at best
            with the others and how many are needed.
    """
    C = len(names)
    group = {0} if pairs else set()
    grew = True
    while grew:
        grew = False
        for p in pairs:
            if (p.a in group) != (p.b in group):
                group |= {p.a, p.b}
                grew = True
    alone = [c for c in range(C) if c not in group]
    if not alone:
        return
    c = alone[0] if len(group) else int(np.argmax(seen.sum(axis=1)))
    others = [o for o in range(C) if o != c]
    best = max(int(np.sum(seen[c] & seen[o])) for o in others) if others else 0
    linked = sorted(names[o] for o in group) if group else []
    raise InsufficientDataError(
        names[c], f"shares {best} points at best with another camera, expected at least "
        f"{min_shared} seen at the same instant to link it to the others"
        + (f" (linked: {', '.join(linked)})" if linked else ""))


def first_pair(pairs: list[PairPose]) -> PairPose:
    """The best-conditioned edge (see :attr:`PairPose.score`)."""
    return max(pairs, key=lambda p: p.score)


def triangulate_registered(xn, seen, R, t, registered, focal_px, max_reproj_px):
    """Points (N, 3) triangulated from the registered cameras, NaN where fewer than two
    see them or where they reproject worse than ``max_reproj_px`` or lie behind a camera."""
    w = (seen & registered[:, None]).astype(float)
    P = np.concatenate([R, t[:, :, None]], axis=2)
    X = triangulate_normalized(xn, w, P)
    Xc = np.einsum("cij,nj->cni", R, X) + t[:, None]
    with np.errstate(all="ignore"):
        err = np.linalg.norm(Xc[..., :2] / Xc[..., 2:] - np.nan_to_num(xn), axis=-1) * focal_px[:, None]
        bad = (w > 0) & ~((err <= max_reproj_px) & (Xc[..., 2] > 0))
    X[bad.any(axis=0)] = np.nan
    return X


def pnp_pose(X: np.ndarray, x: np.ndarray, threshold: float, seed: int, iterations: int = 2000):
    """Pose ``(R (3, 3), t (3,), inliers)`` of a camera from points (n, 3) and their
    normalised coordinates (n, 2); None when PnP fails (or the points are degenerate)."""
    cv2.setRNGSeed(seed)
    try:
        ok, rvec, tvec, inl = cv2.solvePnPRansac(X, x, np.eye(3), None, iterationsCount=iterations,
                                                 reprojectionError=threshold, confidence=0.9999,
                                                 flags=cv2.SOLVEPNP_SQPNP)
    except cv2.error:  # points (nearly) all at one spot: SQPnP refuses them
        return None
    if not ok or inl is None or len(inl) < 6:
        return None
    idx = inl[:, 0]
    rvec, tvec = cv2.solvePnPRefineLM(X[idx], x[idx], np.eye(3), None, rvec, tvec)
    return cv2.Rodrigues(rvec)[0], tvec[:, 0], idx.size


def register_cameras(xn, seen, pairs, focal_px, names,
                     options: BootstrapOptions = BootstrapOptions(), min_inliers: int | None = None):
    """Every camera's pose from the best edge outwards (module docstring, steps 2-3).

    ``min_inliers``: fewest PnP inliers that place a camera (None: half of
    ``options.min_shared``).

    Returns:
        ``(R_cam_from_world (C, 3, 3), t_cam_from_world (C, 3), order)``: the world frame is
        the first pair's first camera's, the first baseline 1; ``order`` the cameras in the
        order they were registered.

    Raises:
        InsufficientDataError: a camera that sees too few of the triangulated points.
    """
    C = xn.shape[0]
    R, t = np.tile(np.eye(3), (C, 1, 1)), np.zeros((C, 3))
    p = first_pair(pairs)
    R[p.b], t[p.b] = p.R_b_from_a, p.t_b_from_a
    R[p.a], t[p.a] = np.eye(3), np.zeros(3)
    reg = np.zeros(C, bool)
    reg[[p.a, p.b]] = True
    order = [p.a, p.b]
    need = options.min_shared // 2 if min_inliers is None else min_inliers
    while not reg.all():
        X = triangulate_registered(xn, seen, R, t, reg, focal_px, options.max_reproj_px)
        ok = np.isfinite(X[:, 0])
        counts = np.where(reg, -1, np.sum(seen & ok[None], axis=1))
        c = int(np.argmax(counts))
        use = np.flatnonzero(seen[c] & ok)
        found = pnp_pose(X[use], xn[c, use], options.ransac_px / focal_px[c], options.seed,
                         options.pnp_iterations) \
            if use.size >= 6 else None
        if found is None or found[2] < need:
            raise InsufficientDataError(
                names[c], f"sees {use.size} points triangulated by the cameras "
                f"{', '.join(names[o] for o in order)} ({0 if found is None else found[2]} "
                f"consistent), expected at least {need} to place it")
        R[c], t[c], n = found
        reg[c] = True
        order.append(c)
        log.debug("camera %s registered from %d of %d points", names[c], n, use.size)
    return R, t, order


def bootstrap_rig(cameras, xy: np.ndarray, conf: np.ndarray | None = None,
                  options: BootstrapOptions = BootstrapOptions()) -> tuple[Rig, list[PairPose]]:
    """A rig found from points seen by several cameras (no extrinsics needed).

    Args:
        cameras: C cameras with their intrinsics (the extrinsics are ignored).
        xy: (C, F, J, 2) pixels per camera, NaN where unseen (a point is one (F, J) entry).
        conf: (C, F, J) confidences (None: 1 where ``xy`` is finite).
        options: thresholds.

    Returns:
        The rig (world frame: the best pair's first camera; scale: its baseline is 1) and the
        camera graph's edges. Not yet bundle adjusted.

    Raises:
        InsufficientDataError: a camera not linked to the others, or too few points to place it.
    """
    cameras = tuple(cameras)
    C = len(cameras)
    names = [c.name for c in cameras]
    pts = np.asarray(xy, dtype=np.float64).reshape(C, -1, 2)
    cf = np.isfinite(pts[..., 0]).astype(float) if conf is None else \
        np.asarray(conf, dtype=np.float64).reshape(C, -1)
    xn, seen = normalized_points(cameras, pts, cf, options.min_conf)
    keep = np.flatnonzero(seen.sum(axis=0) >= 2)
    if keep.size > options.max_points:
        keep = np.sort(np.random.default_rng(options.seed).choice(keep, options.max_points,
                                                                  replace=False))
    xn, seen = xn[:, keep], seen[:, keep]
    focal = np.array([np.sqrt(c.K[0, 0] * c.K[1, 1]) for c in cameras])
    pairs = pair_poses(xn, seen, focal, options)
    check_connected(pairs, names, seen, options.min_shared)
    R, t, order = register_cameras(xn, seen, pairs, focal, names, options)
    log.info("cameras found from %d points: %d pairs (%s), registered in the order %s",
             keep.size, len(pairs), ", ".join(f"{names[p.a]}-{names[p.b]} {p.inliers} inliers "
                                             f"{p.parallax_deg:.0f} deg" for p in pairs),
             ", ".join(names[c] for c in order))
    out = tuple(cam.replace(R_cam_from_world=R[c], t_cam_from_world=t[c])
                for c, cam in enumerate(cameras))
    return Rig(out), pairs

