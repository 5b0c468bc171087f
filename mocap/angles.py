"""Joint angles computed from 3D keypoints (degrees), for reports and plots.

Conventions: world frame right-handed, Z up, metres (see :mod:`mocap.types`). The trunk frame
of each frame is built from the keypoints: *left* from the right hip to the left hip, *up*
from the pelvis to the neck (made orthogonal to left), *forward* = left x up. Where the format
has no pelvis or neck keypoint, the midpoint of the hips or of the shoulders stands in.

Angles (all in degrees, NaN where a needed keypoint is missing):

- ``knee_flexion``, ``elbow_flexion``: the unsigned angle between the proximal segment
  (thigh, upper arm) and the distal one (shank, forearm); 0 when the limb is straight.
- ``hip_flexion``, ``shoulder_flexion``: the thigh's / upper arm's direction projected on the
  trunk's sagittal plane (spanned by forward and up), measured from straight down towards
  forward; positive in flexion (limb swung forward), negative in extension, 180 overhead.
"""
from __future__ import annotations

import numpy as np

from .errors import MocapError

__all__ = ["ANGLE_NAMES", "trunk_frames", "segment_angle_deg", "sagittal_angle_deg",
           "joint_angles"]

#: The angles :func:`joint_angles` returns, each with a ``left_`` and a ``right_`` version.
ANGLE_NAMES = ("hip_flexion", "knee_flexion", "shoulder_flexion", "elbow_flexion")

_MIDPOINTS = {"pelvis": ("left_hip", "right_hip"), "neck": ("left_shoulder", "right_shoulder")}


def _unit(v: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return v / np.linalg.norm(v, axis=-1, keepdims=True)


def trunk_frames(left_hip: np.ndarray, right_hip: np.ndarray, pelvis: np.ndarray,
                 neck: np.ndarray) -> np.ndarray:
    """The trunk's axes in the world.

    Args:
        left_hip, right_hip, pelvis, neck: (..., 3) positions, metres, world frame.
    Returns:
        (..., 3, 3) whose columns are the unit *forward*, *left* and *up* directions of the
        trunk, in the world frame; NaN where an input is missing or degenerate.
    """
    left = _unit(left_hip - right_hip)
    up = neck - pelvis
    up = _unit(up - (up * left).sum(-1, keepdims=True) * left)
    forward = np.cross(left, up)
    return np.stack([forward, left, up], -1)


def segment_angle_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Unsigned angle between two vectors.

    Args:
        a, b: (..., 3) vectors (any unit).
    Returns:
        (...) degrees in [0, 180]; NaN where either vector is missing or zero.
    """
    # atan2 of |a x b| and a.b is accurate near 0 and 180 degrees, unlike arccos.
    cross = np.linalg.norm(np.cross(a, b), axis=-1)
    dot = (a * b).sum(-1)
    ok = (np.linalg.norm(a, axis=-1) > 0) & (np.linalg.norm(b, axis=-1) > 0)
    return np.where(ok, np.degrees(np.arctan2(cross, dot)), np.nan)


def sagittal_angle_deg(limb: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """Flexion of a limb in the trunk's sagittal plane.

    Args:
        limb: (..., 3) direction of the limb segment (proximal to distal joint), world frame.
        frames: (..., 3, 3) trunk axes from :func:`trunk_frames` (columns forward, left, up).
    Returns:
        (...) degrees in (-180, 180]: 0 pointing down along the trunk, positive forward.
    """
    fwd = (limb * frames[..., :, 0]).sum(-1)
    down = -(limb * frames[..., :, 2]).sum(-1)
    return np.degrees(np.arctan2(fwd, down))


def _getter(xyz: np.ndarray, joint_names) -> "callable":
    index = {n: i for i, n in enumerate(joint_names)}

    def get(name: str) -> np.ndarray:
        if name in index:
            return xyz[..., index[name], :]
        if name in _MIDPOINTS and all(n in index for n in _MIDPOINTS[name]):
            a, b = _MIDPOINTS[name]
            return 0.5 * (xyz[..., index[a], :] + xyz[..., index[b], :])
        raise MocapError(f"joint angles: the keypoints have no joint {name!r} (nor the "
                         f"joints to stand in for it); they have {', '.join(joint_names)}")
    return get


def joint_angles(xyz: np.ndarray, joint_names) -> dict[str, np.ndarray]:
    """Hip, knee, shoulder and elbow flexion of both sides.

    Args:
        xyz: (..., J, 3) keypoints, metres, world frame (NaN = missing).
        joint_names: (J,) canonical names (see :mod:`mocap.keypoints`); the hips, knees,
            ankles, shoulders, elbows and wrists are needed.
    Returns:
        ``{"left_knee_flexion": (...) degrees, ...}`` for every name of :data:`ANGLE_NAMES`
        with a ``left_`` and ``right_`` prefix; NaN where a keypoint is missing.

    Raises:
        MocapError: if ``xyz`` is not (..., J, 3) or a needed joint is absent from the format.
    """
    xyz = np.asarray(xyz, dtype=np.float64)
    if xyz.ndim < 2 or xyz.shape[-2:] != (len(joint_names), 3):
        raise MocapError(f"joint angles: xyz must have shape (..., {len(joint_names)}, 3), "
                         f"found {xyz.shape}")
    get = _getter(xyz, joint_names)
    frames = trunk_frames(get("left_hip"), get("right_hip"), get("pelvis"), get("neck"))
    out = {}
    for side in ("left", "right"):
        hip, knee, ankle = (get(f"{side}_{n}") for n in ("hip", "knee", "ankle"))
        sho, elb, wri = (get(f"{side}_{n}") for n in ("shoulder", "elbow", "wrist"))
        out[f"{side}_hip_flexion"] = sagittal_angle_deg(knee - hip, frames)
        out[f"{side}_knee_flexion"] = segment_angle_deg(knee - hip, ankle - knee)
        out[f"{side}_shoulder_flexion"] = sagittal_angle_deg(elb - sho, frames)
        out[f"{side}_elbow_flexion"] = segment_angle_deg(elb - sho, wri - elb)
    return out
