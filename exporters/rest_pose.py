"""Rest poses rigs expect (T-pose, A-pose) for a skeleton, the motion unchanged in the world.

Retargeting tools (Blender's, Unreal's IK Retargeter, Mixamo's uploader) match the rest poses
of the source and the target first: a Mixamo or Rigify rig stands in a T-pose, Unreal's
Manny/Quinn and MetaHuman in an A-pose (arms about 45 degrees down). ``repose`` gives a
skeleton that pose as its rest pose and re-expresses the motion on it exactly (every joint at
every frame where it was).

How: each joint ``p`` that owns a single bone (one child ``c``) whose direction the pose sets
gets a rest turn ``A_p`` (the least rotation taking its rest offset onto the wanted direction).
The new offsets are ``A_p @ offsets[c]``, the new local rotations
``A_parent(j) @ L_j @ A_j^T`` (so the global rotations become ``G_j @ A_j^T``, and
``G'_p @ offsets'_c = G_p @ offsets_c``: positions are unchanged). Joints with several children
(pelvis, chest) keep their offsets. A skinned mesh is moved into the new rest pose by the same
turns (``repose_mesh``), so linear-blend skinning of it gives the same posed vertices.

Directions are stated in the body frame of the skeleton's own rest pose (left: right hip to
left hip; up: pelvis to neck; forward = left x up):

==============  =====================================================================
``neutral``     the skeleton as it is (the actor's own average pose)
``t``           arms and collars straight out to the sides, legs straight down
``a``           collars out, arms 45 degrees down, legs straight down
==============  =====================================================================
"""
from __future__ import annotations

import numpy as np

from exporters.errors import ExportError
from exporters.from_positions import swing_rotation
from exporters.mesh import SkinnedMesh
from exporters.skeleton import Motion, Skeleton

__all__ = ["REST_POSES", "body_axes", "rest_turns", "repose", "repose_mesh"]

REST_POSES = ("neutral", "t", "a")
"""Rest poses ``repose`` makes."""
_ARM = ("elbow", "wrist", "hand")
_LEG = ("knee", "ankle")


def _directions(kind: str, side: str, part: str, parent_part: str) -> np.ndarray | None:
    """Wanted rest direction (body frame: left, forward, up) of the bone ending at
    ``<side>_<part>``, or None where the pose leaves it alone."""
    sign = 1.0 if side == "left" else -1.0
    if part in _LEG:
        return np.array([0.0, 0.0, -1.0])
    if part in _ARM or (part == "shoulder" and parent_part == "collar"):
        if kind == "a" and part != "shoulder":
            return np.array([sign * np.sqrt(0.5), 0.0, -np.sqrt(0.5)])
        return np.array([sign, 0.0, 0.0])
    return None


def body_axes(skeleton: Skeleton) -> np.ndarray:
    """(3, 3) columns: the rest pose's left, forward and up directions in the world.

    Raises:
        ExportError: the skeleton has no ``left_hip``/``right_hip`` or nothing above the pelvis.
    """
    names = {n: i for i, n in enumerate(skeleton.joint_names)}
    rest = skeleton.rest_positions()
    top = next((names[n] for n in ("neck", "spine3", "spine2", "head") if n in names), None)
    if "left_hip" not in names or "right_hip" not in names or top is None:
        raise ExportError(f"rest pose: expected left_hip, right_hip and a neck or spine joint, found "
                          f"{list(skeleton.joint_names)}")
    left = rest[names["left_hip"]] - rest[names["right_hip"]]
    left /= np.linalg.norm(left)
    up = rest[top] - rest[0]
    up -= (up @ left) * left
    up /= np.linalg.norm(up)
    return np.stack([left, np.cross(left, up), up], axis=1)


def _split(name: str) -> tuple[str, str]:
    side, _, part = name.partition("_")
    return (side, part) if side in ("left", "right") else ("", name)


def rest_turns(skeleton: Skeleton, kind: str) -> np.ndarray:
    """(J, 3, 3) the rest turn ``A_j`` of every joint for rest pose ``kind`` (identity where
    the joint keeps its rest orientation). Joint names are canonical (``left_elbow``...)."""
    if kind not in REST_POSES:
        raise ExportError(f"rest pose: expected one of {list(REST_POSES)}, found {kind!r}")
    turns = np.tile(np.eye(3), (skeleton.num_joints, 1, 1))
    if kind == "neutral":
        return turns
    axes = body_axes(skeleton)
    for p in range(skeleton.num_joints):
        children = skeleton.children(p)
        if len(children) != 1:
            continue
        side, part = _split(skeleton.joint_names[children[0]])
        wanted = _directions(kind, side, part, _split(skeleton.joint_names[p])[1]) if side else None
        if wanted is not None and np.linalg.norm(skeleton.offsets[children[0]]) > 1e-9:
            turns[p] = swing_rotation(skeleton.offsets[children[0]], axes @ wanted)
    return turns


def repose(skeleton: Skeleton, motion: Motion, kind: str) -> tuple[Skeleton, Motion]:
    """The skeleton with rest pose ``kind`` and the same motion on it (positions unchanged).

    Args:
        skeleton: J joints, canonical names. motion: its motion. kind: one of ``REST_POSES``.
    Returns:
        the new skeleton (same names and parents) and motion (same frames, root translation).
    """
    turns = rest_turns(skeleton, kind)
    parents = skeleton.parents
    offsets = skeleton.offsets.copy()
    offsets[1:] = np.einsum("jik,jk->ji", turns[parents[1:]], skeleton.offsets[1:])
    parent_turns = np.concatenate([np.eye(3)[None], turns[parents[1:]]])
    rotations = parent_turns @ motion.rotations @ np.swapaxes(turns, -1, -2)
    return (Skeleton(skeleton.joint_names, parents, offsets),
            Motion(rotations, motion.root_translation, motion.fps))


def repose_mesh(mesh: SkinnedMesh, skeleton: Skeleton, kind: str) -> SkinnedMesh:
    """``mesh`` (skinned to ``skeleton``) moved into rest pose ``kind``: each joint's part of a
    vertex turns with the joint (``rest'_j + A_j @ (v - rest_j)``, blended by the weights)."""
    turns = rest_turns(skeleton, kind)
    new_skeleton = repose(skeleton, Motion(np.tile(np.eye(3), (1, skeleton.num_joints, 1, 1)),
                                           skeleton.offsets[:1], 1.0), kind)[0]
    old, new = skeleton.rest_positions(), new_skeleton.rest_positions()
    moved = new[None] + np.einsum("jik,vjk->vji", turns, mesh.vertices[:, None] - old[None])
    vertices = np.einsum("vj,vji->vi", mesh.weights, moved)
    return SkinnedMesh(vertices, mesh.faces, mesh.weights, mesh.name)
