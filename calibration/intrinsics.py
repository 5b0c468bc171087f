"""Per-camera intrinsics from board views, the image coverage of those views, board poses.

Models (as OpenCV names them): ``"pinhole"`` estimates fx, fy, cx, cy and (k1, k2, p1, p2, k3)
with ``cv2.calibrateCamera``; ``"fisheye"`` estimates fx, fy, cx, cy and (k1, k2, k3, k4) with
``cv2.fisheye.calibrate``. Board poses are ``T_cam_from_board`` (4, 4), metres.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

from calibration.boards.spec import MIN_CORNERS, BoardSpec
from calibration.boards.views import BoardViews
from calibration.bundle import BundleOptions, Observations, bundle_adjust, pose_to_vec
from calibration.camera import Camera
from calibration.lens import FISHEYE, PINHOLE
from calibration.rotations import rotvec_to_rotmat
from calibration.errors import CalibrationError, InsufficientDataError

log = logging.getLogger(__name__)

#: Fewest views intrinsics are estimated from.
MIN_INTRINSIC_VIEWS = 3
#: With ``fix_k3=None`` the pinhole k3 is estimated only when the board's corners reach at
#: least this share of the way from the image centre to its corners: the sixth-order term is
#: otherwise unconstrained where nothing was seen, and it extrapolates wildly there (on the
#: Pose2Sim demo's 7 checkerboard views per camera, reaching 53-76 %, a free k3 bends the
#: image corners by up to 170 px).
K3_MIN_RADIAL_REACH = 0.85


def radial_reach(xy_px: np.ndarray, size_wh: tuple[int, int]) -> float:
    """How far out the points reach: the largest distance from the image centre of
    ``xy_px`` (..., 2) pixels (NaN ignored), over the centre-to-corner distance; in [0, ~1]."""
    w, h = size_wh
    centre = np.array([(w - 1) / 2.0, (h - 1) / 2.0])
    pts = np.asarray(xy_px, dtype=np.float64).reshape(-1, 2)
    pts = pts[np.all(np.isfinite(pts), axis=1)]
    if not pts.size:
        return 0.0
    return float(np.max(np.linalg.norm(pts - centre, axis=1)) / np.linalg.norm(centre))


@dataclass(frozen=True)
class Coverage:
    """Which parts of the image the board's corners covered.

    Attributes:
        grid: (rows, cols) bool, True where at least one corner fell in the cell.
        fraction: share of cells covered, in [0, 1].
    """

    grid: np.ndarray
    fraction: float


def image_coverage(xy_px: np.ndarray, size_wh: tuple[int, int], cells: tuple[int, int] = (8, 6)) -> Coverage:
    """Coverage of an image by points.

    Args:
        xy_px: (..., 2) pixels, NaN ignored.
        size_wh: image (width, height).
        cells: grid (columns, rows).
    """
    w, h = size_wh
    cols, rows = cells
    pts = np.asarray(xy_px, dtype=np.float64).reshape(-1, 2)
    pts = pts[np.all(np.isfinite(pts), axis=1)]
    grid = np.zeros((rows, cols), dtype=bool)
    if pts.size:
        cx = np.clip(((pts[:, 0] + 0.5) / w * cols).astype(int), 0, cols - 1)
        cy = np.clip(((pts[:, 1] + 0.5) / h * rows).astype(int), 0, rows - 1)
        grid[cy, cx] = True
    return Coverage(grid=grid, fraction=float(grid.mean()))


@dataclass(frozen=True)
class IntrinsicsResult:
    """Intrinsics of one camera and the board poses of its views.

    Attributes:
        camera: the camera (identity extrinsics).
        rms_px: RMS reprojection error over the views used, pixels.
        used: (U,) indices of the views the intrinsics were estimated from.
        T_cam_from_board: (V, 4, 4) board pose in every view (NaN where PnP failed).
        view_error_px: (V,) RMS reprojection error of each view with its pose, pixels.
        coverage: image coverage of all views' corners.
        k3_fixed: the pinhole k3 was kept at 0.
        radial_reach: see :func:`radial_reach`, over all views.
    """

    camera: Camera
    rms_px: float
    used: np.ndarray
    T_cam_from_board: np.ndarray
    view_error_px: np.ndarray
    coverage: Coverage
    k3_fixed: bool = False
    radial_reach: float = 1.0


def _view_points(views: BoardViews, spec: BoardSpec, i: int) -> tuple[np.ndarray, np.ndarray]:
    ok = np.isfinite(views.xy[i, :, 0])
    return spec.object_points[ok], views.xy[i, ok]


def select_views(views: BoardViews, max_views: int) -> np.ndarray:
    """Indices of at most ``max_views`` views with at least :data:`MIN_CORNERS` corners,
    spread evenly over the sequence (every view when there are few)."""
    good = np.flatnonzero(views.counts >= MIN_CORNERS)
    if good.size <= max_views:
        return good
    pick = np.linspace(0, good.size - 1, max_views).round().astype(int)
    return good[np.unique(pick)]


def calibrate_intrinsics(
    views: BoardViews,
    spec: BoardSpec,
    model: str = PINHOLE,
    max_views: int = 40,
    fix_k3: bool | None = None,
) -> IntrinsicsResult:
    """Estimate a camera's intrinsics from its board views.

    Args:
        views: the camera's board views.
        spec: the board.
        model: ``"pinhole"`` (k1 k2 p1 p2 k3) or ``"fisheye"`` (k1 k2 k3 k4).
        max_views: at most this many views (spread over the sequence) go into the estimate;
            poses are then computed for every view.
        fix_k3: keep k3 at 0 (pinhole), for lenses with little distortion or few views;
            None: only where the views reach less than :data:`K3_MIN_RADIAL_REACH` of the
            way to the image corners (``IntrinsicsResult.k3_fixed`` says which).

    Raises:
        InsufficientDataError: fewer than :data:`MIN_INTRINSIC_VIEWS` usable views.
    """
    used = select_views(views, max_views)
    if used.size < MIN_INTRINSIC_VIEWS:
        raise InsufficientDataError(
            views.camera,
            f"expected at least {MIN_INTRINSIC_VIEWS} board views with >= {MIN_CORNERS} corners "
            f"to estimate intrinsics ({views.source}), found {used.size}",
        )
    obj, img = zip(*(_view_points(views, spec, i) for i in used))
    reach = radial_reach(views.xy, views.size_wh)
    if reach < K3_MIN_RADIAL_REACH:
        log.warning("camera %s: the board reaches only %.0f %% of the way to the image corners; "
                    "the lens model is extrapolated beyond (film the board near the corners too)",
                    views.camera, 100 * reach)
    if fix_k3 is None:
        fix_k3 = model == PINHOLE and reach < K3_MIN_RADIAL_REACH
    if model == PINHOLE:
        K, dist, rms = _calibrate_pinhole(obj, img, views.size_wh, fix_k3)
    elif model == FISHEYE:
        K, dist, rms = _calibrate_fisheye(obj, img, views.size_wh, views.camera)
    else:
        raise CalibrationError(f"model: expected one of {[PINHOLE, FISHEYE]}, found {model!r}")
    K = np.array([[K[0, 0], 0.0, K[0, 2]], [0.0, K[1, 1], K[1, 2]], [0.0, 0.0, 1.0]])
    cam = Camera(views.camera, views.size_wh, K, dist, np.eye(3), np.zeros(3), model)
    T, err = board_poses(cam, views, spec)
    log.info("camera %s: intrinsics from %d views, RMS %.3f px, f = (%.1f, %.1f) px",
             views.camera, used.size, rms, K[0, 0], K[1, 1])
    return IntrinsicsResult(cam, float(rms), used, T, err, image_coverage(views.xy, views.size_wh),
                            bool(fix_k3 and model == PINHOLE), reach)


def _calibrate_pinhole(obj, img, size_wh, fix_k3):
    flags = cv2.CALIB_FIX_K3 if fix_k3 else 0
    rms, K, dist, _, _ = cv2.calibrateCamera(
        [o.astype(np.float32) for o in obj],
        [i.astype(np.float32) for i in img],
        tuple(size_wh), None, None, flags=flags,
        criteria=(cv2.TERM_CRITERIA_COUNT + cv2.TERM_CRITERIA_EPS, 100, 1e-10),
    )
    return K, dist.reshape(-1)[:5].astype(np.float64), rms


def _calibrate_fisheye(obj, img, size_wh, name):
    """Fisheye intrinsics: a homography-based focal guess with the equidistant lens
    (k1..k4 = 0), board poses by PnP, then a bundle adjustment of K, k1..k4 and the poses."""
    w, h = size_wh
    K0 = cv2.initCameraMatrix2D([o.astype(np.float32) for o in obj],
                                [i.astype(np.float32) for i in img], (w, h))
    K0 = np.array([[K0[0, 0], 0.0, (w - 1) / 2], [0.0, K0[1, 1], (h - 1) / 2], [0.0, 0.0, 1.0]])
    cam = Camera(name, size_wh, K0, np.zeros(4), np.eye(3), np.zeros(3), FISHEYE)
    kept = [(o, i, T) for o, i in zip(obj, img) if (T := pnp(cam, o, i)) is not None]
    if len(kept) < MIN_INTRINSIC_VIEWS:
        raise InsufficientDataError(
            name, f"expected at least {MIN_INTRINSIC_VIEWS} board views a fisheye pose fits, "
            f"found {len(kept)}")
    # The corners of every view are stacked into one table of board points; each observation
    # names its view (the structure) and its row in that table.
    objs = np.concatenate([o for o, _, _ in kept])
    offsets = np.cumsum([0] + [len(o) for o, _, _ in kept])
    st = np.concatenate([np.full(len(o), v) for v, (o, _, _) in enumerate(kept)])
    pt = np.concatenate([offsets[v] + np.arange(len(o)) for v, (o, _, _) in enumerate(kept)])
    xy = np.concatenate([i for _, i, _ in kept])
    obs = Observations(np.zeros(st.size, dtype=int), st, pt, xy, np.ones(st.size))
    poses = [T for _, _, T in kept]
    res = bundle_adjust([cam], pose_to_vec(np.stack(poses)), obs, objs,
                        BundleOptions(refine_extrinsics=False))
    out = res.cameras[0]
    return out.K, out.dist, res.error_px


def board_poses(camera: Camera, views: BoardViews, spec: BoardSpec) -> tuple[np.ndarray, np.ndarray]:
    """Board pose in every view by PnP with the camera's intrinsics (lens undone first).

    Returns:
        ``(T_cam_from_board (V, 4, 4), view RMS error (V,) pixels)``; NaN where a view has
        fewer than :data:`MIN_CORNERS` corners or PnP fails.
    """
    V = len(views)
    T = np.full((V, 4, 4), np.nan)
    err = np.full(V, np.nan)
    for i in range(V):
        obj, img = _view_points(views, spec, i)
        if len(obj) < MIN_CORNERS:
            continue
        pose = pnp(camera, obj, img)
        if pose is None:
            continue
        T[i] = pose
        X = obj @ pose[:3, :3].T + pose[:3, 3]
        proj = Camera(camera.name, camera.size_wh, camera.K, camera.dist, np.eye(3),
                      np.zeros(3), camera.model).project(X)
        err[i] = float(np.sqrt(np.mean(np.sum((proj - img) ** 2, axis=1))))
    return T, err


def pnp(camera: Camera, obj: np.ndarray, img: np.ndarray) -> np.ndarray | None:
    """``T_cam_from_board`` (4, 4) of planar board points ``obj`` (n, 3) seen at pixels
    ``img`` (n, 2), or None; the camera's lens model is undone before solving."""
    xy_n = camera.undistort_points(img)
    ok = np.all(np.isfinite(xy_n), axis=1)
    if ok.sum() < 4:
        return None
    o, p = obj[ok].astype(np.float64), xy_n[ok].astype(np.float64)
    try:
        found, rvec, tvec = cv2.solvePnP(o, p, np.eye(3), None, flags=cv2.SOLVEPNP_IPPE)
        if not found:
            return None
        rvec, tvec = cv2.solvePnPRefineLM(o, p, np.eye(3), None, rvec, tvec)
    except cv2.error:
        return None
    T = np.eye(4)
    T[:3, :3] = rotvec_to_rotmat(rvec.reshape(3))
    T[:3, 3] = tvec.reshape(3)
    if not np.all(np.isfinite(T)) or T[2, 3] <= 0:
        return None
    return T


@dataclass(frozen=True)
class PinholeRefit:
    """A pinhole refit of one camera's intrinsics and board poses (see
    :func:`refit_with_fixed_principal_point`).

    Attributes:
        camera: the refitted camera (identity extrinsics; dist (5,) k1 k2 p1 p2 k3).
        rms_px: RMS reprojection error over all corners used, pixels (per corner, the 2D norm).
        rss_px2: sum of squared residuals, pixels squared (both coordinates of every corner).
        n_residuals: residuals (2 per corner).
        n_params: parameters fitted: focal (2), principal point (2, when free), lens (4, or 5
            with k3 free), 6 per view.
        std_px: (4,) standard errors of fx, fy, cx, cy, pixels (0 where held fixed).
        used: (U,) indices of the views fitted (those with at least :data:`MIN_CORNERS`).
    """

    camera: Camera
    rms_px: float
    rss_px2: float
    n_residuals: int
    n_params: int
    std_px: np.ndarray
    used: np.ndarray


def refit_with_fixed_principal_point(
    camera: Camera,
    views: BoardViews,
    spec: BoardSpec,
    principal_point: np.ndarray | tuple[float, float] | None,
    fix_k3: bool = True,
) -> PinholeRefit:
    """Refit a pinhole camera's focal lengths, lens and board poses to its board views with
    the principal point held at ``principal_point`` (or, with None, refitted too: the free
    fit the constrained ones are compared with).

    ``cv2.calibrateCameraExtended`` from ``camera``'s K and lens (its principal point replaced),
    every view with at least :data:`MIN_CORNERS` corners, skew 0, k3 kept at 0 with ``fix_k3``.
    The free and the fixed fit are nested least-squares problems: their ``rss_px2`` give
    an F test of the fixed principal point (2 constraints).

    Args:
        camera: a pinhole camera, the starting point.
        views: its board views.
        spec: the board.
        principal_point: (2,) (cx, cy) pixels, or None.
        fix_k3: keep k3 at 0.

    Raises:
        CalibrationError: ``camera`` is not a pinhole camera.
        InsufficientDataError: fewer than :data:`MIN_INTRINSIC_VIEWS` usable views.
    """
    if camera.model != PINHOLE:
        raise CalibrationError(f"{camera.name} model: expected {PINHOLE!r}, found {camera.model!r}")
    used = np.flatnonzero(views.counts >= MIN_CORNERS)
    if used.size < MIN_INTRINSIC_VIEWS:
        raise InsufficientDataError(
            views.camera, f"expected at least {MIN_INTRINSIC_VIEWS} board views with >= "
            f"{MIN_CORNERS} corners to refit intrinsics ({views.source}), found {used.size}")
    obj, img = zip(*(_view_points(views, spec, i) for i in used))
    obj = [o.astype(np.float32) for o in obj]
    img = [i.astype(np.float32) for i in img]
    K0 = np.array(camera.K, dtype=np.float64)
    K0[0, 1] = 0.0
    flags = cv2.CALIB_USE_INTRINSIC_GUESS | (cv2.CALIB_FIX_K3 if fix_k3 else 0)
    if principal_point is not None:
        K0[:2, 2] = np.asarray(principal_point, dtype=np.float64).reshape(2)
        flags |= cv2.CALIB_FIX_PRINCIPAL_POINT
    d0 = np.zeros(5)
    d0[:min(5, camera.dist.size)] = camera.dist[:5]
    if fix_k3:
        d0[4] = 0.0
    _, K, dist, rvecs, tvecs, std_int, _, _ = cv2.calibrateCameraExtended(
        obj, img, tuple(views.size_wh), K0, d0, flags=flags,
        criteria=(cv2.TERM_CRITERIA_COUNT + cv2.TERM_CRITERIA_EPS, 200, 1e-12))
    dist = dist.reshape(-1)[:5].astype(np.float64)
    rss = 0.0
    for o, i, r, t in zip(obj, img, rvecs, tvecs):
        proj, _ = cv2.projectPoints(o.astype(np.float64), r, t, K, dist)
        rss += float(np.sum((proj.reshape(-1, 2) - i) ** 2))
    n_points = sum(len(o) for o in obj)
    n_params = 2 + (0 if principal_point is not None else 2) + (4 if fix_k3 else 5) + 6 * used.size
    K = np.array([[K[0, 0], 0.0, K[0, 2]], [0.0, K[1, 1], K[1, 2]], [0.0, 0.0, 1.0]])
    out = Camera(camera.name, camera.size_wh, K, dist, np.eye(3), np.zeros(3), PINHOLE)
    return PinholeRefit(out, float(np.sqrt(rss / n_points)), rss, 2 * n_points, n_params,
                        std_int.reshape(-1)[:4].astype(np.float64), used)
