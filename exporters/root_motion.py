"""Root motion on a separate root bone at the floor, as game engines expect it.

``add_root_bone`` puts a new top joint (``root``, index 0) under the skeleton's root joint
(the hips): the root stands on the floor (z = 0) under the hips and carries their horizontal
translation and the pelvis's heading (its yaw about the vertical, the twist of the pelvis
rotation about +Z, unwrapped over the take); the hips, its child, carry the rest: their
height and horizontal offset from the root as a per-frame translation
(``Motion.translations``) and the pelvis rotation relative to the root. Every joint stays
where it was in the world (``forward_kinematics`` of the new skeleton and motion gives the
old positions), and the rest pose is the old one with the root at the floor under the hips.

``in_place=True`` keeps the root at the origin (it still turns with the pelvis): the hips'
translation relative to it holds all their motion over the floor.
"""

from __future__ import annotations

import numpy as np

from exporters.errors import SkeletonError
from exporters.mesh import SkinnedMesh
from exporters.skeleton import Motion, Skeleton

__all__ = ["pelvis_yaw", "yaw_matrices", "add_root_bone", "add_root_weights"]


def pelvis_yaw(rotations: np.ndarray) -> np.ndarray:
    """(F,) radians: the heading of each rotation, its twist about the world's +Z.

    Args:
        rotations: (F, 3, 3) the pelvis's global rotation (relative to its rest pose).

    Returns:
        the twist angle of the swing-twist decomposition about +Z (the angle the rotation turns
        the rest pose about the vertical), unwrapped over frames (no 2 pi jumps). A pelvis
        turned upside down (twist undefined) keeps the previous frame's heading.
    """
    from scipy.spatial.transform import Rotation  # lazy: scipy.spatial costs ~0.25 s to import
    quaternions = Rotation.from_matrix(np.asarray(rotations, dtype=np.float64).reshape(-1, 3, 3)).as_quat()
    z, w = quaternions[:, 2], quaternions[:, 3]                     # the twist about z is (w, 0, 0, z)
    yaw = 2.0 * np.arctan2(z, w)
    for f in np.flatnonzero(np.hypot(z, w) < 1e-9):
        yaw[f] = yaw[f - 1] if f > 0 else 0.0
    return np.unwrap(yaw)


def yaw_matrices(yaw: np.ndarray) -> np.ndarray:
    """(F, 3, 3) rotations about +Z by ``yaw`` (F,) radians."""
    c, s = np.cos(yaw), np.sin(yaw)
    out = np.zeros((*np.shape(yaw), 3, 3))
    out[..., 0, 0], out[..., 0, 1], out[..., 1, 0], out[..., 1, 1], out[..., 2, 2] = c, -s, s, c, 1.0
    return out


def add_root_bone(skeleton: Skeleton, motion: Motion, name: str = "root", *, in_place: bool = False
                  ) -> tuple[Skeleton, Motion]:
    """The skeleton with a root bone at the floor above its root joint, and the same motion.

    Args:
        skeleton: J joints, joint 0 the hips (offsets in metres, world frame, Z up).
        motion: F frames for ``skeleton`` with no translating joint besides the root.
        name: the new bone's name (``exporters.naming.root_bone_name``).
        in_place: keep the root at the origin instead of under the hips.

    Returns:
        skeleton: J + 1 joints: ``name`` (offset: the hips' rest (x, y, 0)), then the old
            joints, their indices shifted by one (the hips' offset now (0, 0, rest height)).
        motion: root translation (hips x, y, 0) or (0, 0, 0) with ``in_place``; root rotation
            the pelvis's heading; the hips' rotation relative to it and their translation
            (``Motion.translations[1]``) from it, in its frame; the other joints unchanged.

    Raises:
        SkeletonError: ``name`` already names a joint.
    """
    motion.check_matches(skeleton)
    if name in skeleton.joint_names:
        raise SkeletonError(f"root bone {name!r}: expected a name no joint has, found joint {skeleton.index(name)}")
    rest_hips = skeleton.offsets[0]
    offsets = np.concatenate([[[rest_hips[0], rest_hips[1], 0.0]], [[0.0, 0.0, rest_hips[2]]], skeleton.offsets[1:]])
    parents = np.concatenate([[-1, 0], np.asarray(skeleton.parents[1:]) + 1])
    rooted = Skeleton((name, *skeleton.joint_names), parents, offsets)
    hips = np.asarray(motion.rotations[:, 0])
    heading = yaw_matrices(pelvis_yaw(hips))                                        # (F, 3, 3)
    root = np.zeros_like(motion.root_translation)
    if not in_place:
        root[:, :2] = motion.root_translation[:, :2]
    local_hips = np.swapaxes(heading, -1, -2) @ hips
    hips_from_root = np.einsum("fba,fb->fa", heading, motion.root_translation - root)   # heading^T @ (hips - root)
    rotations = np.concatenate([heading[:, None], local_hips[:, None], motion.rotations[:, 1:]], axis=1)
    translations = {1: hips_from_root, **{j + 1: t for j, t in motion.translations.items()}}
    return rooted, Motion(rotations, root, motion.fps, translations)


def add_root_weights(mesh: SkinnedMesh) -> SkinnedMesh:
    """The mesh with a weight column for a root bone put first (no vertex follows it)."""
    weights = np.concatenate([np.zeros((mesh.weights.shape[0], 1)), mesh.weights], axis=1)
    return SkinnedMesh(mesh.vertices, mesh.faces, weights, name=mesh.name)
