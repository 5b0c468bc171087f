"""Calibrations gone wrong in known ways, and how far a recovered one is from the truth: the
virtual studio's side of ``mocap calibrate --level-from-person / --refine-from-people``
(shared by the tests and ``benchmarks/calibration_people.py``).

Frames: "true" is the studio's world (metres, Z up, floor at Z = 0); a recovered rig has its own
world frame, related to the true one by the pose of its first camera.
"""
from __future__ import annotations

import numpy as np

from calibration import Rig
from calibration.bundle import vec_to_pose
from calibration.world import camera_centers, similarity_from_points, transform_points

from ..keypoints import get_format

__all__ = ["T_TILTED_FROM_TRUE", "poor_rig", "new_from_true", "floor_errors",
           "relative_centre_error_m", "mean_baseline_m"]

#: A world that is not level: 6 degrees of tilt, 1.1 m of height, turned and shifted.
T_TILTED_FROM_TRUE = vec_to_pose(np.array([0.06, -0.09, 0.8, 0.3, -0.2, 1.1]))


def poor_rig(rig: Rig, seed: int = 1, rot_deg: float = 0.6, shift_m: float = 0.03) -> Rig:
    """``rig`` as poor board views leave it: every camera but the first turned by about
    ``rot_deg`` and moved by about ``shift_m`` (seeded normal draws per axis)."""
    rng = np.random.default_rng(seed)
    cams = [rig[0]]
    for c in rig.cameras[1:]:
        R = vec_to_pose(np.r_[rng.normal(0, np.radians(rot_deg), 3), 0, 0, 0])[:3, :3]
        cams.append(c.replace(R_cam_from_world=R @ c.R_cam_from_world,
                              t_cam_from_world=c.t_cam_from_world + rng.normal(0, shift_m, 3)))
    return Rig(tuple(cams))


def new_from_true(rig: Rig, truth: Rig) -> np.ndarray:
    """(4, 4) ``T_new_from_true`` of a rig whose first camera is ``truth``'s first camera
    seen from another world frame."""
    new, true = rig[0], truth[0]
    T = np.eye(4)
    T[:3, :3] = new.R_cam_from_world.T @ true.R_cam_from_world
    T[:3, 3] = new.R_cam_from_world.T @ (true.t_cam_from_world - new.t_cam_from_world)
    return T


def floor_errors(rig: Rig, truth: Rig, gt_xyz: np.ndarray, fmt: str):
    """How well ``rig``'s world frame sits on the true floor.

    Args:
        gt_xyz: (F, P, J, 3) true keypoints of the take (person 0 is the one levelled from).
        fmt: their keypoint format (needs the ankles).
    Returns:
        ``(tilt_deg, floor_z_m, origin_xy_m (2,), camera_dz_m (C,))``: the angle between the
        new Z and the true up; the new height of the true floor under the person's ankles
        (0 is perfect); that point's new (x, y) (the origin should be under the person); each
        camera's height error.
    """
    T = new_from_true(rig, truth)
    tilt = np.degrees(np.arccos(np.clip((T[:3, :3] @ [0.0, 0.0, 1.0])[2], -1, 1)))
    kf = get_format(fmt)
    ankles = gt_xyz[:, 0, [kf.index("left_ankle"), kf.index("right_ankle")]]
    under = np.median(ankles.mean(axis=1), axis=0) * [1.0, 1.0, 0.0]
    p = transform_points(under, T)
    dz = np.array([a.center[2] - b.center[2] for a, b in zip(rig, truth)])
    return float(tilt), float(p[2]), p[:2], dz


def relative_centre_error_m(rig: Rig, truth: Rig) -> float:
    """Largest camera-centre error after the similarity that best maps ``rig``'s centres onto
    ``truth``'s (2D keypoints cannot tell the world frame or the scale), metres."""
    c, t = camera_centers(rig.cameras), camera_centers(truth.cameras)
    T, s = similarity_from_points(c, t)
    return float(np.max(np.linalg.norm(transform_points(c, T, s) - t, axis=1)))


def mean_baseline_m(rig: Rig) -> float:
    """Mean distance between camera centres (the rig's scale), metres."""
    c = camera_centers(rig.cameras)
    return float(np.mean(np.linalg.norm(c[:, None] - c[None], axis=-1)))
