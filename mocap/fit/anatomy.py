"""The anatomy the fit's priors know: joint limits and pose-prior spreads per joint kind in
each joint's anatomical axes (:func:`pose_priors`), the spine joints, and the keypoints of
the torso and the soles."""
from __future__ import annotations

import functools
import math

import numpy as np

from ..body.model import anatomical_frames

__all__ = ["TORSO", "SOLE", "pose_priors", "spine_joints"]

TORSO = ("left_hip", "right_hip", "left_shoulder", "right_shoulder", "pelvis", "neck",
         "spine1", "spine2", "spine3")
SOLE = ("left_heel", "right_heel", "left_big_toe", "right_big_toe", "left_small_toe",
        "right_small_toe", "left_ankle", "right_ankle")


# Per joint (left side; right mirrors abduction and twist): limits in degrees for the
# (flexion, abduction, twist) axes of :func:`mocap.body.anatomical_frames`, relative to the
# rest pose, and the pose prior's spread in radians. Knee flexion is negative about its axis,
# elbow, hip, shoulder and spine flexion positive ("hinge" joints: small abduction and twist).
_LIMITS_DEG = {
    "hip": ((-35, 130), (-50, 30), (-45, 45)),
    "knee": ((-160, 8), (-10, 10), (-25, 25)),
    "ankle": ((-50, 35), (-25, 25), (-30, 30)),
    "foot": ((-45, 45), (-15, 15), (-15, 15)),
    "spine": ((-25, 50), (-25, 25), (-30, 30)),
    "neck": ((-45, 50), (-35, 35), (-60, 60)),
    "head": ((-45, 45), (-35, 35), (-60, 60)),
    "collar": ((-25, 25), (-25, 25), (-25, 25)),
    "shoulder": ((-100, 180), (-180, 100), (-100, 100)),
    "elbow": ((-8, 160), (-20, 20), (-90, 90)),
    "wrist": ((-80, 80), (-40, 40), (-60, 60)),
}
_SIGMA_RAD = {
    "hip": (0.8, 0.4, 0.3), "knee": (1.0, 0.1, 0.15), "ankle": (0.5, 0.2, 0.2),
    "foot": (0.3, 0.1, 0.1), "spine": (0.3, 0.2, 0.25), "neck": (0.3, 0.25, 0.3),
    "head": (0.4, 0.3, 0.4), "collar": (0.08, 0.08, 0.08), "shoulder": (0.8, 0.8, 0.4),
    "elbow": (1.0, 0.15, 0.3), "wrist": (0.5, 0.3, 0.3),
}
_HINGE_REST = {"knee": ("hip", "knee", "ankle", -1.0), "elbow": ("shoulder", "elbow", "wrist", 1.0)}


def _joint_kind(canonical: str) -> str:
    base = canonical.replace("left_", "").replace("right_", "")
    return "spine" if base.startswith("spine") else base


@functools.lru_cache(maxsize=16)
def pose_priors(model) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Anatomical frames (J, 3, 3), limits lower/upper (J, 3) radians and prior spreads (J, 3)
    radians of a model's fitted non-root joints.

    A hinge joint's extension limit moves by the flexion the model's rest pose already has
    (Anny rests with bent elbows), so that a straight limb stays allowed.
    """
    frames = anatomical_frames(model)[1:]
    J = model.joint_template.numpy()
    canon_idx = {c: model.joint_names.index(n) for n, c in model.canonical.items()}
    lower, upper, sigma = [], [], []
    for name in model.fitted[1:]:
        canon = model.canonical.get(name, "")
        kind = _joint_kind(canon)
        lim = np.radians(np.array(_LIMITS_DEG.get(kind, ((-90, 90),) * 3), float))
        sig = np.array(_SIGMA_RAD.get(kind, (0.5, 0.5, 0.5)), float)
        side = "right_" if canon.startswith("right_") else "left_"
        if kind in _HINGE_REST:
            *ends, sgn = _HINGE_REST[kind]
            a, b, c = (side + n for n in ends)
            if all(n in canon_idx for n in (a, b, c)):
                u = J[canon_idx[b]] - J[canon_idx[a]]
                v = J[canon_idx[c]] - J[canon_idx[b]]
                bend = math.acos(np.clip(u @ v / np.linalg.norm(u) / np.linalg.norm(v), -1, 1))
                if sgn > 0:
                    lim[0, 0] -= bend
                else:
                    lim[0, 1] += bend
        if canon.startswith("right_"):
            lim[1:] = -lim[1:, ::-1]
        lower.append(lim[:, 0])
        upper.append(lim[:, 1])
        sigma.append(sig)
    return frames, np.array(lower), np.array(upper), np.array(sigma)


def spine_joints(model) -> list[int]:
    return [model.fitted.index(n) for n, c in model.canonical.items()
            if c in ("spine1", "spine2", "spine3")]
