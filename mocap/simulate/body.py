"""A kinematic human for the virtual studio.

The body is a tree of joints with rest offsets given as fractions of the standing height
(anthropometric proportions after Drillis & Contini / Winter), so one number scales it. Its
rest pose stands at the origin facing +X, left = +Y, up = +Z (world frame, metres). Every
keypoint of every supported format is a *landmark*: a point fixed in one joint's frame, so
any keypoint format can be rendered from the same motion.

Convention for local rotations: ``global_R[j] = global_R[parent] @ local_R[j]`` and
``pos[j] = pos[parent] + global_R[parent] @ offset[j]`` (as in :mod:`exporters.skeleton`),
computed by :func:`mocap.body.kinematics.chain_kinematics`.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..body.kinematics import chain_kinematics

__all__ = ["Body", "JOINTS", "LANDMARKS", "CAPSULES"]

# (joint, parent, rest offset from the parent, fractions of height, body frame x fwd y left z up)
_JOINTS_LEFT = [
    ("pelvis", None, (0.0, 0.0, 0.0)),
    ("spine1", "pelvis", (-0.005, 0.0, 0.06)),
    ("spine2", "spine1", (0.0, 0.0, 0.09)),
    ("spine3", "spine2", (0.005, 0.0, 0.09)),
    ("neck", "spine3", (0.0, 0.0, 0.05)),
    ("head", "neck", (0.01, 0.0, 0.08)),
    ("left_collar", "spine3", (0.0, 0.02, 0.035)),
    ("left_shoulder", "left_collar", (-0.005, 0.082, 0.012)),
    ("left_elbow", "left_shoulder", (0.0, 0.0, -0.186)),
    ("left_wrist", "left_elbow", (0.0, 0.0, -0.146)),
    ("left_hand", "left_wrist", (0.0, 0.0, -0.05)),
    ("left_hip", "pelvis", (0.0, 0.05, 0.0)),
    ("left_knee", "left_hip", (0.0, 0.0, -0.245)),
    ("left_ankle", "left_knee", (0.0, 0.0, -0.246)),
    ("left_foot", "left_ankle", (0.105, 0.0, -0.033)),
]

# (landmark, joint it is fixed to, offset in that joint's rest frame, fractions of height)
_LANDMARKS_LEFT = [
    ("upper_neck", "head", (0.005, 0.0, -0.025)),
    ("head_top", "head", (0.0, 0.0, 0.1)),
    ("nose", "head", (0.06, 0.0, 0.035)),
    ("left_eye", "head", (0.05, 0.018, 0.05)),
    ("left_eye_inner", "head", (0.053, 0.01, 0.05)),
    ("left_eye_outer", "head", (0.045, 0.028, 0.05)),
    ("left_ear", "head", (0.0, 0.043, 0.04)),
    ("left_mouth", "head", (0.052, 0.013, 0.014)),
    ("left_heel", "left_ankle", (-0.03, 0.0, -0.037)),
    ("left_big_toe", "left_ankle", (0.145, -0.008, -0.035)),
    ("left_small_toe", "left_ankle", (0.12, 0.02, -0.035)),
    ("left_index", "left_wrist", (0.012, -0.004, -0.1)),
    ("left_pinky", "left_wrist", (-0.02, -0.004, -0.085)),
    ("left_thumb", "left_wrist", (0.03, -0.012, -0.05)),
] + [(f"left_{name}", "left_wrist", off) for name, off in (
    # MediaPipe Hands' 21 points (format blazepose75), the hand straight, palm inwards
    ("hand_wrist", (0.0, 0.0, -0.004)), ("thumb_cmc", (0.012, -0.004, -0.016)),
    ("thumb_mcp", (0.022, -0.008, -0.03)), ("thumb_ip", (0.028, -0.011, -0.042)),
    ("thumb_tip", (0.032, -0.012, -0.053)))] + [
    (f"left_{digit}_{j}", "left_wrist", (x, -0.004, z * length))
    for digit, x, length in (("index", 0.012, 1.0), ("middle", 0.002, 1.07),
                             ("ring", -0.009, 1.0), ("pinky", -0.019, 0.85))
    for j, z in (("mcp", -0.055), ("pip", -0.075), ("dip", -0.089), ("tip", -0.1))]

# (joint a, joint b, radius as a fraction of height): solids that hide what is behind them
CAPSULES = (
    ("pelvis", "neck", 0.075), ("head", "head", 0.06),
    ("left_shoulder", "left_elbow", 0.026), ("left_elbow", "left_wrist", 0.021),
    ("right_shoulder", "right_elbow", 0.026), ("right_elbow", "right_wrist", 0.021),
    ("left_hip", "left_knee", 0.04), ("left_knee", "left_ankle", 0.029),
    ("right_hip", "right_knee", 0.04), ("right_knee", "right_ankle", 0.029),
)


def _mirror(rows):
    out = []
    for row in rows:
        name, ref, off = row
        out.append(row)
        if name.startswith("left_"):
            ref_m = ref.replace("left_", "right_") if ref else ref
            out.append(("right_" + name[5:], ref_m, (off[0], -off[1], off[2])))
    return out


JOINTS = tuple(_mirror(_JOINTS_LEFT))
JOINT_NAMES = tuple(j[0] for j in JOINTS)
LANDMARKS = tuple([(n, n, (0.0, 0.0, 0.0)) for n in JOINT_NAMES] + _mirror(_LANDMARKS_LEFT))
LANDMARK_NAMES = tuple(lm[0] for lm in LANDMARKS)
SOLE_LANDMARKS = ("left_heel", "left_big_toe", "left_small_toe", "right_heel", "right_big_toe",
                  "right_small_toe")


@dataclass(frozen=True)
class Body:
    """A person of a given standing height with slightly individual proportions.

    Attributes:
        height_m: standing height (floor to top of head), metres.
        proportion_jitter: relative spread of segment lengths around the mean proportions
            (0 = the textbook body); drawn once from ``seed``.
        seed: makes the individual proportions reproducible.
    """

    height_m: float = 1.75
    proportion_jitter: float = 0.03
    seed: int = 0

    @cached_property
    def parents(self) -> np.ndarray:
        """(J,) int parent indices of :data:`JOINT_NAMES`."""
        return np.array([JOINT_NAMES.index(p) if p else -1 for _, p, _ in JOINTS])

    @cached_property
    def _jittered(self) -> np.ndarray:
        """(J, 3) rest offsets in proportion units with this person's segment jitter."""
        rng = np.random.default_rng(self.seed)
        base = np.array([o for _, _, o in JOINTS], dtype=float)
        groups: dict[str, float] = {}
        scale = np.ones(len(JOINTS))
        for i, name in enumerate(JOINT_NAMES):
            key = name.replace("left_", "").replace("right_", "")
            if key not in groups:  # same factor left and right: the body stays symmetric
                groups[key] = 1.0 + self.proportion_jitter * float(rng.standard_normal())
            scale[i] = groups[key]
        return base * scale[:, None]

    @cached_property
    def scale(self) -> float:
        """Metres per proportion unit, chosen so that floor-to-head-top equals ``height_m``."""
        off = self._jittered
        idx = {n: i for i, n in enumerate(JOINT_NAMES)}
        lm = {n: o for n, _, o in LANDMARKS}
        up = sum(off[idx[n], 2] for n in ("spine1", "spine2", "spine3", "neck", "head"))
        down = off[idx["left_knee"], 2] + off[idx["left_ankle"], 2] + lm["left_heel"][2]
        return float(self.height_m / (up + lm["head_top"][2] - down))

    @cached_property
    def offsets(self) -> np.ndarray:
        """(J, 3) rest offsets from the parent joint, metres."""
        return self._jittered * self.scale

    @cached_property
    def landmark_table(self) -> tuple[np.ndarray, np.ndarray]:
        """(L,) joint index of each landmark and (L, 3) its offset in metres."""
        joint = np.array([JOINT_NAMES.index(j) for _, j, _ in LANDMARKS])
        off = np.array([o for _, _, o in LANDMARKS], dtype=float) * self.scale
        return joint, off

    def capsules(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(S,) joint a, (S,) joint b, (S,) radius in metres of the occluding solids."""
        a = np.array([JOINT_NAMES.index(c[0]) for c in CAPSULES])
        b = np.array([JOINT_NAMES.index(c[1]) for c in CAPSULES])
        r = np.array([c[2] for c in CAPSULES]) * self.height_m
        return a, b, r

    def pose(self, local_R: np.ndarray, root_R: np.ndarray, root_pos: np.ndarray,
             ) -> tuple[np.ndarray, np.ndarray]:
        """World joints (F, J, 3) and landmarks (F, L, 3), metres, for a motion."""
        joints, glob = chain_kinematics(self.parents, self.offsets, local_R, root_pos, root_R)
        lj, loff = self.landmark_table
        marks = joints[:, lj] + np.einsum("flab,lb->fla", glob[:, lj], loff)
        return joints, marks
