"""World frame: metres, Z up, the floor at z = 0.

After bundle adjustment the world is the first camera's frame. :func:`align_to_floor_board`
moves it onto a board lying on the floor: origin at the board's origin (the outer corner of
its first square), X along the board's x axis, Y along the board's *negative* y axis (so that
Z = X × Y points up out of the printed face; the board frame's own z points into the floor),
scale from the square size (the bundle adjustment already works in metres).
:func:`level_from_standing_person` is the alternative without a floor board: it levels the
floor from keypoints of a person standing upright.

Transforms are (4, 4) ``T_<to>_from_<from>``; a similarity carries a scale separately.
"""

from __future__ import annotations

import logging
import warnings
from typing import Mapping, Sequence

import numpy as np

from calibration.boards.spec import MIN_CORNERS, BoardSpec
from calibration.bundle import BundleOptions, Observations, bundle_adjust, pose_to_vec, vec_to_pose
from calibration.camera import Camera
from calibration.errors import CalibrationError, InsufficientDataError, ShapeError
from calibration.extrinsics import invert_pose, robust_mean_pose
from calibration.intrinsics import pnp
from calibration.rig import Rig

log = logging.getLogger(__name__)

#: Board frame -> floor frame: a half turn about the board's x axis (y and z flip).
FLOOR_FROM_BOARD = np.diag([1.0, -1.0, -1.0, 1.0])


def transform_rig(rig: Rig, T_new_from_old: np.ndarray, scale: float = 1.0) -> Rig:
    """The rig expressed in a new world frame: ``X_new = scale * R X_old + t``.

    Args:
        rig: cameras in the old world frame.
        T_new_from_old: (4, 4) rigid part ``[R | t]`` of the similarity.
        scale: the similarity's scale (1: rigid).
    """
    T = np.asarray(T_new_from_old, dtype=np.float64)
    if T.shape != (4, 4):
        raise ShapeError(f"T_new_from_old: expected shape (4, 4), found {T.shape}")
    R, t = T[:3, :3], T[:3, 3]
    cams = []
    for cam in rig:
        # X_cam ~ R_c X_old + t_c with X_old = R^T (X_new - t) / s; scale the camera frame by s.
        Rc = cam.R_cam_from_world @ R.T
        tc = scale * cam.t_cam_from_world - Rc @ t
        cams.append(cam.replace(R_cam_from_world=Rc, t_cam_from_world=tc))
    return Rig(tuple(cams), rig.metadata)


def transform_points(X: np.ndarray, T_new_from_old: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """(..., 3) points -> ``scale * R X + t``."""
    return scale * np.asarray(X) @ T_new_from_old[:3, :3].T + T_new_from_old[:3, 3]


def locate_board(
    rig: Rig,
    corners: Mapping[str, np.ndarray],
    spec: BoardSpec,
) -> np.ndarray:
    """Pose of one board seen by some cameras of a calibrated rig.

    Args:
        rig: calibrated cameras.
        corners: camera name -> (N, 2) pixels of the board's corners by id, NaN where not
            found (cameras that did not see it may be left out).
        spec: the board.

    Returns:
        (4, 4) ``T_world_from_board``: the mean of each camera's PnP pose, refined by a bundle
        adjustment of the board pose alone over every camera that saw it.

    Raises:
        InsufficientDataError: no camera saw at least :data:`MIN_CORNERS` corners.
    """
    guesses, cam_idx, point, xy = [], [], [], []
    for name, pts in corners.items():
        c = rig.index(name)
        pts = np.asarray(pts, dtype=np.float64)
        ok = np.isfinite(pts[:, 0])
        if ok.sum() < MIN_CORNERS:
            continue
        T_cb = pnp(rig[c], spec.object_points[ok], pts[ok])
        if T_cb is None:
            continue
        T_wc = invert_pose(_pose(rig[c]))
        guesses.append(T_wc @ T_cb)
        ids = np.flatnonzero(ok)
        cam_idx += [c] * ids.size
        point += ids.tolist()
        xy.append(pts[ok])
    if not guesses:
        raise InsufficientDataError(
            ",".join(corners) or "none",
            f"expected the floor board with >= {MIN_CORNERS} corners in at least one camera, "
            "found none",
        )
    T0 = robust_mean_pose(np.stack(guesses))
    M = len(cam_idx)
    obs = Observations(np.asarray(cam_idx), np.zeros(M, dtype=int), np.asarray(point),
                       np.concatenate(xy), np.ones(M))
    opts = BundleOptions(refine_focal=False, refine_principal_point=False,
                         refine_distortion=False, refine_extrinsics=False)
    res = bundle_adjust(rig.cameras, pose_to_vec(T0)[None], obs, spec.object_points, opts)
    return vec_to_pose(res.structure[0])


def _pose(cam: Camera) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3] = cam.R_cam_from_world
    T[:3, 3] = cam.t_cam_from_world
    return T


def floor_frame_from_board(T_world_from_board: np.ndarray) -> np.ndarray:
    """(4, 4) ``T_new_from_old`` making a board lying on the floor (printed face up) the world
    frame: origin at the board origin, X = board x, Y = -board y, Z up."""
    T_old_from_floor = np.asarray(T_world_from_board) @ FLOOR_FROM_BOARD
    return invert_pose(T_old_from_floor)


def align_to_floor_board(rig: Rig, T_world_from_board: np.ndarray) -> tuple[Rig, np.ndarray]:
    """The rig in the frame of a board lying on the floor (see :func:`floor_frame_from_board`).

    Returns:
        ``(aligned rig, T_new_from_old)``.

    Raises:
        CalibrationError: when the cameras end up below the floor (the board was seen from
            underneath, or was not lying face up).
    """
    T = floor_frame_from_board(T_world_from_board)
    out = transform_rig(rig, T)
    z = np.array([c.center[2] for c in out])
    if np.median(z) < 0:
        raise CalibrationError(
            f"floor board: expected the cameras above the floor (z > 0), found camera heights "
            f"{np.round(z, 3).tolist()} m; is the board lying face up?"
        )
    return out, T


def level_from_standing_person(
    head_xyz: np.ndarray,
    feet_xyz: np.ndarray,
    feet_height_m: float | np.ndarray = 0.0,
    max_lean_deg: float = 15.0,
    base_xyz: np.ndarray | None = None,
) -> np.ndarray:
    """Level the floor from a person standing upright (no floor board needed).

    The up direction is the mean direction from the base of the body's axis (``base_xyz``,
    by default the middle of the feet points) to the head point over
    the frames where the person stands upright: frames leaning more than ``max_lean_deg`` from
    the mean (bending, sitting, lying) are dropped, and the mean is taken again. The rotation
    is the smallest one taking that up direction to +Z (the heading is kept). The floor passes
    under the feet: per frame, the lowest feet point less its height above the floor
    (``feet_height_m``), median over frames. The origin is the point of the floor under the
    middle of the feet (median over frames). The scale is kept (metres in, metres out).

    A person leans a little (the shoulders sit a degree or two in front of the ankles): a person
    who turns around on the spot, or several people facing different ways, cancel it.

    Args:
        head_xyz: (F, 3) a point above the feet on the body's axis (the middle of the
            shoulders, the head), world metres. NaN frames are ignored.
        feet_xyz: (F, K, 3) points on the feet (ankles, heels, toes), world metres, NaN
            where missing.
        feet_height_m: (K,) or scalar: height of each feet point above the floor when the
            person stands (0 for the soles: heels, toes; the ankles are about 0.04 of the
            standing height above it), metres.
        max_lean_deg: frames whose feet-to-head direction leans more than this from the mean
            are not standing upright and are left out.
        base_xyz: (F, 3) the bottom of the body's axis, world metres (e.g. the middle of the
            ankles: toes and heels are not centred under the body); None: the mean of the feet
            points.

    Returns:
        (4, 4) ``T_new_from_old`` (apply with :func:`transform_rig`).

    Raises:
        ShapeError: shapes that do not match.
        InsufficientDataError: no frame with both head and feet, or none upright.
    """
    head = np.asarray(head_xyz, dtype=np.float64)
    feet = np.asarray(feet_xyz, dtype=np.float64)
    if head.ndim != 2 or head.shape[-1] != 3:
        raise ShapeError(f"head_xyz: expected shape (F, 3), found {head.shape}")
    if feet.ndim != 3 or feet.shape[0] != head.shape[0] or feet.shape[-1] != 3:
        raise ShapeError(f"feet_xyz: expected shape ({head.shape[0]}, K, 3), found {feet.shape}")
    lift = np.asarray(feet_height_m, dtype=np.float64)
    if lift.ndim > 1 or lift.size not in (1, feet.shape[1]):
        raise ShapeError(f"feet_height_m: expected a scalar or shape ({feet.shape[1]},), "
                         f"found {lift.shape}")
    lift = np.broadcast_to(lift.reshape(-1), feet.shape[1:2])
    if base_xyz is not None and np.shape(base_xyz) != head.shape:
        raise ShapeError(f"base_xyz: expected shape {head.shape}, found {np.shape(base_xyz)}")
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN frames: NaN, dropped below
        foot_mid = np.nanmean(feet, axis=1)
    base = foot_mid if base_xyz is None else np.asarray(base_xyz, dtype=np.float64)
    v = head - base
    v[~np.isfinite(foot_mid).all(axis=1)] = np.nan
    ok = np.all(np.isfinite(v), axis=1) & (np.linalg.norm(np.nan_to_num(v), axis=1) > 0)
    if ok.sum() < 1:
        raise InsufficientDataError("person", "expected frames with both head and feet, found none")
    u = v[ok] / np.linalg.norm(v[ok], axis=1, keepdims=True)
    upright = np.ones(len(u), bool)
    for _ in range(5):  # drop the frames that lean too far from the mean of the others
        up = u[upright].mean(axis=0)
        up /= np.linalg.norm(up)
        keep = u @ up >= np.cos(np.radians(max_lean_deg))
        if not keep.any():
            raise InsufficientDataError(
                "person", f"expected frames where the person stands upright (within "
                f"{max_lean_deg:g} deg of the mean axis), found none of {len(u)}")
        if np.array_equal(keep, upright):
            break
        upright = keep
    R = _rotation_between(up, np.array([0.0, 0.0, 1.0]))
    frames = np.flatnonzero(ok)[upright]
    rotated = feet[frames] @ R.T                                       # (n, K, 3)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        floor = float(np.median(np.nanmin(rotated[..., 2] - lift, axis=1)))
        origin = np.median(np.nanmean(rotated[..., :2], axis=1), axis=0)
    T = np.eye(4)
    T[:3, :3] = R
    T[:3, 3] = [-origin[0], -origin[1], -floor]
    log.info("levelled from a standing person (%d of %d frames upright): up tilted %.2f deg "
             "from +Z, floor at %.3f m", frames.size, int(ok.sum()),
             np.degrees(np.arccos(np.clip(up[2], -1, 1))), floor)
    return T


def _rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest rotation (3, 3) taking unit vector ``a`` to unit vector ``b``."""
    v = np.cross(a, b)
    c = float(np.dot(a, b))
    if c < -1 + 1e-12:  # opposite: a half turn about any axis orthogonal to a
        axis = np.cross(a, [1.0, 0.0, 0.0])
        if np.linalg.norm(axis) < 1e-6:
            axis = np.cross(a, [0.0, 1.0, 0.0])
        axis /= np.linalg.norm(axis)
        return 2 * np.outer(axis, axis) - np.eye(3)
    vx = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + vx + vx @ vx / (1.0 + c)


def similarity_from_points(src: np.ndarray, dst: np.ndarray, with_scale: bool = True) -> tuple[np.ndarray, float]:
    """Umeyama: ``(T (4, 4), s)`` minimising ``sum |s R src + t - dst|^2`` over (n, 3) points."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    a, b = src - mu_s, dst - mu_d
    U, S, Vt = np.linalg.svd(b.T @ a / len(src))
    D = np.diag([1.0, 1.0, np.sign(np.linalg.det(U @ Vt))])
    R = U @ D @ Vt
    s = float(np.trace(np.diag(S) @ D) / np.mean(np.sum(a * a, axis=1))) if with_scale else 1.0
    T = np.eye(4)
    T[:3, :3] = R
    T[:3, 3] = mu_d - s * R @ mu_s
    return T, s


def camera_centers(cameras: Sequence[Camera]) -> np.ndarray:
    """(C, 3) camera centres, world metres."""
    return np.stack([c.center for c in cameras])
