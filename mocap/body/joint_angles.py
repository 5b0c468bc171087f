"""Joint angles of a posed body in ISB-style conventions (degrees), for biomechanics.

Each angle is a Cardan decomposition of the rotation of a distal segment relative to its
proximal one, expressed in the body's anatomical axes (forward, left, up of
:func:`mocap.body.model.body_axes`), in the ISB / Grood-Suntay order: **flexion** about the
medio-lateral axis first, then **adduction** about the floating antero-posterior axis, then
**rotation** about the distal segment's long axis (``R = Ry(a) @ Rx(b) @ Rz(c)`` with x
forward, y left, z up). Zero is the model's neutral standing pose (legs straight under the
hips, feet flat, upper arms hanging: :func:`mocap.body.model.neutral_pose`).

Signs (the same on both sides, mirrored where a side matters):

- hip, shoulder: flexion positive with the thigh / upper arm forward; adduction positive
  towards the midline; rotation positive internal.
- knee: flexion positive (heel towards the buttock); adduction (varus) and internal rotation
  positive. elbow: flexion positive.
- ankle: flexion = dorsiflexion positive (toes up); adduction = inversion positive (sole
  towards the midline); rotation = internal (toes towards the midline) positive.
- pelvis (relative to the world, Z up): flexion = anterior tilt positive; adduction = obliquity,
  positive with the left side up; rotation = heading, positive turning left (counter-clockwise
  seen from above).
- trunk (thorax relative to the pelvis): flexion = forward bending positive; adduction =
  lateral bending, positive to the left; rotation = axial, positive to the left.

Segments: pelvis = the root joint's frame, thigh = hip's, shank = knee's, foot = ankle's,
thorax = ``spine3``'s, upper arm = shoulder's, forearm = elbow's.
"""
from __future__ import annotations

import numpy as np

from calibration.rotations import rotvec_to_rotmat

from ..errors import BodyModelError
from .model import BodyModel, body_axes, neutral_pose

__all__ = ["ANGLE_JOINTS", "AXES", "cardan_yxz_deg", "global_rotations", "isb_angles_deg",
           "angle_columns"]

#: The joints of :func:`isb_angles_deg`; each but pelvis and trunk has a left and right side.
ANGLE_JOINTS = ("pelvis", "trunk", "hip", "knee", "ankle", "shoulder", "elbow")
AXES = ("flexion", "adduction", "rotation")

#: joint -> (proximal segment's joint, distal segment's joint), canonical names; "" = world.
_SEGMENTS = {"pelvis": ("", "pelvis"), "trunk": ("pelvis", "spine3"),
             "hip": ("pelvis", "{s}_hip"), "knee": ("{s}_hip", "{s}_knee"),
             "ankle": ("{s}_knee", "{s}_ankle"), "shoulder": ("spine3", "{s}_shoulder"),
             "elbow": ("{s}_shoulder", "{s}_elbow")}

#: joint -> signs applied to (a, b, c) of :func:`cardan_yxz_deg` on the left side; the right
#: side flips adduction and rotation (mirror), except for pelvis and trunk (no side).
_SIGNS = {"pelvis": (1, 1, 1), "trunk": (1, -1, 1), "hip": (-1, -1, -1), "knee": (1, -1, -1),
          "ankle": (-1, -1, -1), "shoulder": (-1, -1, -1), "elbow": (-1, -1, -1)}


def cardan_yxz_deg(R: np.ndarray) -> np.ndarray:
    """(..., 3) angles (a, b, c) in degrees with ``R = Ry(a) @ Rx(b) @ Rz(c)``; R (..., 3, 3).

    b is in [-90, 90]; at |b| = 90 (gimbal lock, never reached by a joint in its range) a and
    c are not unique and a gets the whole rotation about the vertical."""
    b = np.arcsin(np.clip(-R[..., 1, 2], -1.0, 1.0))
    a = np.arctan2(R[..., 0, 2], R[..., 2, 2])
    c = np.arctan2(R[..., 1, 0], R[..., 1, 1])
    return np.degrees(np.stack([a, b, c], -1))


def _zyx_deg(R: np.ndarray) -> np.ndarray:
    """(..., 3) (tilt, list, heading) degrees with ``R = Rz(heading) @ Ry(tilt) @ Rx(list)``."""
    t = np.arcsin(np.clip(-R[..., 2, 0], -1.0, 1.0))
    h = np.arctan2(R[..., 1, 0], R[..., 0, 0])
    ls = np.arctan2(R[..., 2, 1], R[..., 2, 2])
    return np.degrees(np.stack([t, ls, h], -1))


def global_rotations(model: BodyModel, root_R: np.ndarray, local_R: np.ndarray) -> np.ndarray:
    """(F, Jb, 3, 3) world rotations of the fitted joints' frames.

    Args:
        root_R: (F, 3, 3) the root's rotation, model rest frame -> world.
        local_R: (F, Jb - 1, 3, 3) the other fitted joints' local rotations (model rest-frame
            axes), in ``model.fitted`` order.
    """
    F, Jb = root_R.shape[0], len(model.fitted)
    if local_R.shape != (F, Jb - 1, 3, 3):
        raise BodyModelError(f"joint angles: local rotations must have shape "
                             f"{(F, Jb - 1, 3, 3)}, found {local_R.shape}")
    G = np.empty((F, Jb, 3, 3))
    G[:, 0] = root_R
    for j, p in enumerate(model.fitted_parents[1:], 1):
        G[:, j] = G[:, p] @ local_R[:, j - 1]
    return G


def isb_angles_deg(model: BodyModel, root_R: np.ndarray, local_R: np.ndarray) -> dict:
    """Pelvis, trunk, hip, knee, ankle, shoulder and elbow angles of a posed body (see the
    module docstring for axes, order and signs).

    Args:
        root_R, local_R: as :func:`global_rotations` (a fit's :func:`fitted_rotations` split
            as ``[:, 0]`` and ``[:, 1:]``; the studio's ``gt_root_R`` and ``gt_local_R``).
    Returns:
        ``{(joint, side, axis): (F,) degrees}``; side is "left", "right" or "" (pelvis, trunk).
    """
    G = global_rotations(model, np.asarray(root_R, float), np.asarray(local_R, float))
    C = body_axes(model)
    by_canon = {c: model.fitted.index(n) for n, c in model.canonical.items()}
    N = rotvec_to_rotmat(np.asarray(neutral_pose(model), float))           # (Jb, 3, 3)
    G0 = global_rotations(model, np.eye(3)[None], N[None, 1:])[0]          # neutral pose
    seg = G @ np.swapaxes(G0, -1, -2)          # each segment's rotation from its neutral
    out = {}
    for joint, (prox, dist) in _SEGMENTS.items():
        for side in (("",) if "{s}" not in dist else ("left", "right")):
            j = by_canon[dist.format(s=side)]
            if not prox:
                ang = _zyx_deg(seg[:, j] @ C)
            else:
                p = by_canon[prox.format(s=side)]
                rel = np.swapaxes(seg[:, p], -1, -2) @ seg[:, j]
                ang = cardan_yxz_deg(C.T @ rel @ C)
            sign = np.array(_SIGNS[joint], float)
            if side == "right":
                sign[1:] *= -1
            for k, axis in enumerate(AXES):
                out[(joint, side, axis)] = sign[k] * ang[..., k]
    return out


def angle_columns(angles: dict) -> tuple[list[str], np.ndarray]:
    """CSV column names ``<joint>[_<side>]_<axis>_deg`` and the (F, A) values of
    :func:`isb_angles_deg`, in its order."""
    names = ["_".join(p for p in (joint, side, axis) if p) + "_deg"
             for joint, side, axis in angles]
    return names, np.stack(list(angles.values()), -1)
