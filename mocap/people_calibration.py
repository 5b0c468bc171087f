"""A calibration adjusted from the people of a capture (no board): the floor levelled from a
person standing upright, the cameras refined by a bundle adjustment on their 2D keypoints.

Pure: arrays, rigs and settings in; rigs, arrays and report data out (``mocap calibrate
--level-from-person`` / ``--refine-from-people`` read and write the session's files, see
:mod:`mocap.app.calibrate_people`). World frame right-handed, Z up, metres.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from calibration import Rig
from calibration.people import KeypointRefineResult, refine_from_keypoints
from calibration.world import level_from_standing_person, transform_rig

from .errors import SessionError
from .settings import AssociateSettings
from .associate import identify_people
from .types import Detections2D, Points3D

log = logging.getLogger(__name__)

__all__ = ["SOLE_JOINTS", "ANKLE_JOINTS", "ANKLE_HEIGHT_OF_AXIS", "STANDING_SPEED_M_PER_S",
           "MIN_STANDING_FRAMES", "standing_axis", "idx_of", "world_change", "Levelled",
           "level_rig", "refine_rig", "rms", "refine_report"]

#: Keypoints on the soles (height above the floor 0 when standing) and at the ankles, whose
#: height is ANKLE_HEIGHT_OF_AXIS times the ankle-to-shoulder length: ankle 0.039 and shoulder
#: 0.818 of the standing height (Drillis & Contini), 0.039 / (0.818 - 0.039) = 0.05.
SOLE_JOINTS = ("left_heel", "right_heel", "left_big_toe", "right_big_toe", "left_small_toe",
               "right_small_toe")
ANKLE_JOINTS = ("left_ankle", "right_ankle")
ANKLE_HEIGHT_OF_AXIS = 0.05
#: A person stands (rather than walks: walking leans forward along the way) while the middle of
#: the ankles moves slower than this, metres per second (walking: over 1 m/s; swaying and
#: turning on the spot: a few cm/s). Fewer than MIN_STANDING_FRAMES such frames: every frame.
STANDING_SPEED_M_PER_S = 0.25
MIN_STANDING_FRAMES = 10


def idx_of(names: list, wanted) -> list[int]:
    """Indices of ``wanted`` joint names in ``names``."""
    return [names.index(n) for n in wanted]


def _standing_frames(X: np.ndarray, names: list, fps: float) -> np.ndarray:
    """``X`` (F, P, J, 3) with the frames where a person does not stand still set to NaN
    (all kept, with a warning, when fewer than :data:`MIN_STANDING_FRAMES` are still)."""
    mid = X[:, :, idx_of(names, ANKLE_JOINTS)].mean(axis=2)              # (F, P, 3)
    speed = np.linalg.norm(np.gradient(mid, axis=0), axis=-1) * fps if len(X) > 1 \
        else np.zeros(mid.shape[:2])
    still = speed < STANDING_SPEED_M_PER_S                                # NaN: False
    if still.sum() >= MIN_STANDING_FRAMES:
        X[~still] = np.nan
    else:
        log.warning("nobody stands still in the capture (the ankles move faster than %.2f m/s "
                    "in all but %d frames): levelling from every upright frame (walking leans "
                    "forward)", STANDING_SPEED_M_PER_S, int(still.sum()))
    return X


def standing_axis(xyz: np.ndarray, joint_names, fps: float) -> tuple[np.ndarray, ...]:
    """A person's body axis, for levelling the floor from a standing person.

    Only frames where the person stands still (the middle of the ankles slower than
    :data:`STANDING_SPEED_M_PER_S`) are kept, when there are at least
    :data:`MIN_STANDING_FRAMES` of them; the others are NaN.

    Args:
        xyz: (F, P, J, 3) keypoints, world metres, NaN where missing (people pooled).
        joint_names: (J,) canonical names; the format must have both shoulders and ankles.
        fps: frames per second of the take.

    Returns:
        ``(head (N, 3), feet (N, K, 3), feet_height_m (K,), base (N, 3))`` with N = F * P:
        the middle of the shoulders (the point of the upper body closest to above the ankles
        when standing), the ankles and the sole points the format has, each feet point's height
        above the floor when standing (0 for soles; ankles from the median ankle-to-shoulder
        length), and the middle of the ankles (the bottom of the axis).

    Raises:
        SessionError: a format without shoulders or ankles.
    """
    names = list(joint_names)
    need = ("left_shoulder", "right_shoulder") + ANKLE_JOINTS
    missing = [n for n in need if n not in names]
    if missing:
        raise SessionError(f"levelling from a person: expected keypoints {list(need)}, found "
                           f"none for {missing} in the format's {names}")
    X = _standing_frames(np.array(xyz, dtype=np.float64), names, fps)
    X = X.reshape(-1, len(names), 3)
    head = X[:, idx_of(names, ("left_shoulder", "right_shoulder"))].mean(axis=1)
    soles = [n for n in SOLE_JOINTS if n in names]
    feet = X[:, idx_of(names, ANKLE_JOINTS + tuple(soles))]
    base = X[:, idx_of(names, ANKLE_JOINTS)].mean(axis=1)
    axis = np.linalg.norm(head - base, axis=1)
    ankle_h = ANKLE_HEIGHT_OF_AXIS * float(np.nanmedian(axis)) if np.isfinite(axis).any() else 0.0
    lift = np.array([ankle_h] * len(ANKLE_JOINTS) + [0.0] * len(soles))
    return head, feet, lift, base


def world_change(before: Rig, after: Rig) -> np.ndarray:
    """(4, 4) T_after_from_before of two rigs that differ by a rigid change of world frame."""
    c0, c1 = before[0], after[0]
    R = c1.R_cam_from_world.T @ c0.R_cam_from_world
    t = c1.R_cam_from_world.T @ (c0.t_cam_from_world - c1.t_cam_from_world)
    T = np.eye(4)
    T[:3, :3], T[:3, 3] = R, t
    return T


@dataclass(frozen=True)
class Levelled:
    """A rig levelled from a standing person.

    Attributes:
        rig: the cameras in the new world frame (Z up, the origin on the floor under the
            person, metres kept).
        T_new_from_old: (4, 4) the change of world frame.
        tilt_deg: the tilt corrected, degrees.
    """

    rig: Rig
    T_new_from_old: np.ndarray
    tilt_deg: float


def level_rig(rig: Rig, points: Points3D) -> Levelled:
    """``rig`` levelled from the people standing in ``points`` (its 3D keypoints)."""
    head, feet, lift, base = standing_axis(points.xyz, points.joint_names, points.fps)
    T = level_from_standing_person(head, feet, lift, base_xyz=base)
    tilt = math.degrees(math.acos(max(-1.0, min(1.0, float(T[2, 2])))))
    return Levelled(transform_rig(rig, T), T, tilt)


def refine_rig(rig: Rig, det: Detections2D, settings: AssociateSettings) -> KeypointRefineResult:
    """The cameras refined from the people's 2D keypoints (associated first, so that the P
    axis is the same person in every view); the rig's scale and world frame are kept."""
    det, _ = identify_people(det, rig, settings)
    C, F, P, J = det.conf.shape
    return refine_from_keypoints(rig, det.xy.reshape(C, F, P * J, 2),
                                 det.conf.reshape(C, F, P * J))


def rms(e) -> float:
    """Root mean square of the finite values of ``e`` (NaN when there are none)."""
    e = np.asarray(e, dtype=np.float64)
    return float(np.sqrt(np.nanmean(e**2))) if np.isfinite(e).any() else float("nan")


def refine_report(result: KeypointRefineResult) -> dict:
    """The refinement as report data: points used, scale restored, per-camera errors (px)."""
    return {"points_used": result.points_used, "scale_restored": result.scale,
            "cameras": [{"name": n, "reprojection_error_before_px": float(b),
                         "reprojection_error_after_px": float(a)}
                        for n, b, a in zip(result.rig.names, result.error_before_px,
                                           result.error_after_px)]}
