"""From 3D keypoints to an animation skeleton (:class:`exporters.Skeleton` + ``Motion``).

The tree comes from the keypoint format (real joints plus virtual midpoints, rooted at the
pelvis). Bone lengths are constant, estimated robustly from the data. The rest pose is the
actor's own average pose expressed in a body frame (left, back, up), placed facing -Y in the
Z-up world, which is how Blender's front view shows a character.
"""
from __future__ import annotations

import numpy as np

from exporters import Motion, Skeleton
from exporters.from_positions import motion_from_positions, skeleton_from_positions

from ..errors import MocapError
from ..filter import hold_nearest
from ..keypoints import get_format

__all__ = ["body_frames", "rest_directions", "keypoint_skeleton", "hold_unseen_rotations"]


def body_frames(tree_names: tuple[str, ...], xyz: np.ndarray) -> np.ndarray:
    """Per-frame body orientation from the hips and the trunk.

    Args:
        tree_names: (N,) names of the export tree. xyz: (F, N, 3) positions, metres.
    Returns:
        (F, 3, 3) rotations whose columns are the actor's left, back and up directions in the
        world (NaN where the hips or trunk are missing).
    """
    idx = {n: i for i, n in enumerate(tree_names)}
    left = xyz[:, idx["left_hip"]] - xyz[:, idx["right_hip"]]
    top = "neck" if "neck" in idx else "spine3"
    up = xyz[:, idx[top]] - xyz[:, idx["pelvis"]]
    x = left / np.linalg.norm(left, axis=-1, keepdims=True)
    z = up - (up * x).sum(-1, keepdims=True) * x
    z /= np.linalg.norm(z, axis=-1, keepdims=True)
    y = np.cross(z, x)
    return np.stack([x, y, z], -1)


def rest_directions(tree_names, parents, xyz: np.ndarray) -> np.ndarray:
    """(N, 3) unit rest direction of each bone: its median direction in the body frame.

    Args:
        tree_names: (N,) names; parents: (N,) parent indices; xyz: (F, N, 3) metres.
    """
    R = body_frames(tree_names, xyz)
    out = np.zeros((len(tree_names), 3))
    for j, p in enumerate(parents):
        if p < 0:
            continue
        v = xyz[:, j] - xyz[:, p]
        local = np.einsum("fji,fj->fi", R, v)                     # R^T v
        local /= np.linalg.norm(local, axis=-1, keepdims=True)
        med = np.nanmedian(local, axis=0) if np.isfinite(local).all(-1).any() else np.full(3, np.nan)
        out[j] = med / np.linalg.norm(med)
    return out


def keypoint_skeleton(xyz: np.ndarray, fmt: str, fps: float) -> tuple[Skeleton, Motion]:
    """Skeleton and motion of one person.

    Args:
        xyz: (F, J, 3) keypoints of format ``fmt``, world metres, NaN where missing.
        fmt: keypoint format name. fps: frames per second.
    Returns:
        the skeleton (bone lengths = robust median lengths) and its motion; frames where a
        joint is missing hold its nearest observed position, and the rotation of a joint
        whose bones' ends were not all seen is held from the nearest frame where they were
        (:func:`hold_unseen_rotations`).
    Raises:
        MocapError: a joint of the tree is never observed.
    """
    kf = get_format(fmt)
    names, parents = kf.tree
    pos = kf.tree_positions(xyz)
    never = [n for j, n in enumerate(names) if not np.isfinite(pos[:, j]).all(-1).any()]
    if never:
        raise MocapError(f"cannot build a {kf.name} skeleton: joints {never} were never "
                         f"triangulated")
    dirs = rest_directions(names, parents, pos)
    skel = skeleton_from_positions(names, parents, pos, rest_directions=dirs)
    motion = motion_from_positions(skel, hold_nearest(pos), fps)
    return skel, hold_unseen_rotations(motion, parents, np.isfinite(pos).all(-1))


def hold_unseen_rotations(motion: Motion, parents: np.ndarray, seen: np.ndarray) -> Motion:
    """The motion with each joint's rotation held from the nearest frame where it was seen.

    A joint's rotation aims at its children: it is known at a frame only where the joint and
    all its children were observed. Elsewhere (a toe missing for the take's first frames) the
    rotation of held positions would turn the bone anywhere (held toes, a moving foot); the
    joint keeps instead the local rotation of the nearest frame where it was known, so the bone
    moves on with its parent.

    Args:
        motion: F frames of N joints. parents: (N,) the tree. seen: (F, N) bool observed.
    """
    known = np.array(seen, bool)
    for j, p in enumerate(parents):
        if p >= 0:
            known[:, p] &= seen[:, j]
    rotations = np.array(motion.rotations)
    frames = np.arange(len(known))
    for j in np.flatnonzero(~known.all(0) & known.any(0)):
        good = np.flatnonzero(known[:, j])
        nearest = good[np.abs(frames[:, None] - good[None]).argmin(1)]
        rotations[:, j] = rotations[nearest, j]
    return Motion(rotations, motion.root_translation, motion.fps)
