"""A skinned mesh bound to a ``Skeleton``, and linear-blend skinning as a pure function.

Conventions (as in ``exporters.skeleton``): world frame right-handed, Z up, metres. The mesh
is given in the skeleton's rest pose (``Skeleton.rest_positions()``, every joint's rest
orientation the identity), so linear-blend skinning of a vertex ``v`` with weights ``w_j``::

    posed(v) = sum_j w_j (global_R[j] @ (v - rest[j]) + position[j])

where ``global_R`` and ``position`` come from ``forward_kinematics`` of the motion. A body
model's mesh (SMPL, Anny) and the proxy mesh ``bone_boxes`` (a box around every bone, for
viewing keypoint skeletons and for testing skinned exports) both use this type.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from exporters.errors import ExportError
from exporters.skeleton import Motion, Skeleton, forward_kinematics

__all__ = ["SkinnedMesh", "linear_blend_skinning", "bone_boxes"]

WEIGHT_SUM_TOLERANCE = 1e-6
"""Largest accepted |sum of a vertex's weights - 1|."""


def _frozen(values: np.ndarray) -> np.ndarray:
    out = np.array(values, copy=True)
    out.flags.writeable = False
    return out


@dataclass(frozen=True, eq=False)
class SkinnedMesh:
    """A polygon mesh in the rest pose with per-vertex joint weights.

    Attributes:
        vertices: (V, 3) float64, metres, world frame (Z up), rest pose of the skeleton.
        faces: (P, K) int64 vertex indices, K = 3 (triangles) or 4 (quads), counter-clockwise
            seen from outside (outward normals).
        weights: (V, J) float64, >= 0, each row summing to 1: how much joint ``j`` moves vertex ``v``.
        name: the mesh's name in the files written.
    """

    vertices: np.ndarray
    faces: np.ndarray
    weights: np.ndarray
    name: str = "Body"

    def __post_init__(self) -> None:
        vertices = np.asarray(self.vertices, dtype=np.float64)
        if vertices.ndim != 2 or vertices.shape[1] != 3 or vertices.shape[0] == 0:
            raise ExportError(f"mesh vertices: expected shape (V, 3) with V >= 1, found {vertices.shape}")
        if not np.all(np.isfinite(vertices)):
            v = int(np.argwhere(~np.isfinite(vertices))[0, 0])
            raise ExportError(f"mesh vertices[{v}]: expected finite metres, found {vertices[v].tolist()}")
        faces = np.asarray(self.faces)
        if faces.ndim != 2 or faces.shape[1] not in (3, 4) or not np.issubdtype(faces.dtype, np.integer):
            raise ExportError(f"mesh faces: expected integer shape (P, 3) or (P, 4), found {faces.dtype} {faces.shape}")
        if faces.size and (faces.min() < 0 or faces.max() >= len(vertices)):
            raise ExportError(f"mesh faces: expected vertex indices in [0, {len(vertices) - 1}], "
                              f"found [{faces.min()}, {faces.max()}]")
        weights = np.asarray(self.weights, dtype=np.float64)
        if weights.ndim != 2 or weights.shape[0] != len(vertices):
            raise ExportError(f"mesh weights: expected shape ({len(vertices)}, J), found {weights.shape}")
        bad = ~np.all(np.isfinite(weights) & (weights >= 0), axis=1)
        bad |= np.abs(weights.sum(axis=1) - 1.0) > WEIGHT_SUM_TOLERANCE
        if np.any(bad):
            v = int(np.flatnonzero(bad)[0])
            raise ExportError(f"mesh weights[{v}]: expected finite values >= 0 summing to 1, "
                              f"found sum {weights[v].sum():.6g} (min {weights[v].min():.3g})")
        if not isinstance(self.name, str) or not self.name:
            raise ExportError(f"mesh name: expected a non-empty string, found {self.name!r}")
        object.__setattr__(self, "vertices", _frozen(vertices))
        object.__setattr__(self, "faces", _frozen(faces.astype(np.int64)))
        object.__setattr__(self, "weights", _frozen(weights))

    @property
    def num_joints(self) -> int:
        """J, the number of weight columns (one per skeleton joint)."""
        return int(self.weights.shape[1])

    def check_matches(self, skeleton: Skeleton) -> None:
        """Raise ExportError unless there is one weight column per joint of ``skeleton``."""
        if self.num_joints != skeleton.num_joints:
            raise ExportError(f"mesh weights: expected {skeleton.num_joints} columns (the skeleton's joints), "
                              f"found {self.num_joints}")


def linear_blend_skinning(mesh: SkinnedMesh, skeleton: Skeleton, motion: Motion) -> np.ndarray:
    """Posed vertices of ``mesh`` for every frame of ``motion`` (formula: module docstring).

    Returns:
        (F, V, 3) metres, world frame (Z up).
    """
    mesh.check_matches(skeleton)
    motion.check_matches(skeleton)
    positions, rotations = forward_kinematics(skeleton, motion.rotations, motion.root_translation, motion.translations)
    rest = skeleton.rest_positions()
    local = mesh.vertices[None, :, :] - rest[:, None, :]                          # (J, V, 3)
    moved = np.einsum("fjab,jvb->fjva", rotations, local) + positions[:, :, None, :]  # (F, J, V, 3)
    return np.einsum("vj,fjva->fva", mesh.weights, moved)


def _box(start: np.ndarray, end: np.ndarray, half_width: float) -> np.ndarray:
    """(8, 3) corners of a box around the segment start -> end (quads of ``_BOX_FACES``)."""
    axis = end - start
    length = np.linalg.norm(axis)
    u = axis / length if length > 1e-9 else np.array([0.0, 0.0, 1.0])
    helper = np.eye(3)[int(np.argmin(np.abs(u)))]
    a = np.cross(u, helper)
    a /= np.linalg.norm(a)
    b = np.cross(u, a)
    ends = (start, start + u * max(length, 2 * half_width))
    return np.array([e + half_width * (sa * a + sb * b)
                     for e in ends for sa, sb in ((-1, -1), (1, -1), (1, 1), (-1, 1))])


# Quads of a box whose corners are ``_box``'s: the start ring 0-3, the end ring 4-7, both
# counter-clockwise about the bone axis (a, b, u right-handed), so these face outwards.
_BOX_FACES = np.array([[0, 3, 2, 1], [4, 5, 6, 7], [0, 1, 5, 4], [1, 2, 6, 5], [2, 3, 7, 6], [3, 0, 4, 7]])


def bone_boxes(skeleton: Skeleton, half_width_m: float = 0.03, blend: float = 0.5) -> SkinnedMesh:
    """A proxy mesh: a box around every bone, skinned with linear-blend weights.

    The box of the bone from joint ``p`` to its child ``c`` belongs to joint ``p`` (the joint
    whose rotation moves it). Its start ring is blended ``blend`` with ``p``'s parent (so the
    skin bends at the joint, as a real skin does), its end ring is all ``p``'s.

    Args:
        skeleton: the skeleton in its rest pose.
        half_width_m: half the side of each box's square section, metres.
        blend: weight of the parent joint at the start ring of a box (0 = rigid boxes).

    Returns:
        ``SkinnedMesh`` with 8 vertices and 6 quads per bone (bones of zero length are skipped).
    """
    rest = skeleton.rest_positions()
    vertices, faces, weights = [], [], []
    for c in range(1, skeleton.num_joints):
        p = int(skeleton.parents[c])
        if np.linalg.norm(rest[c] - rest[p]) < 1e-6:
            continue
        w = np.zeros((8, skeleton.num_joints))
        w[:, p] = 1.0
        grand = int(skeleton.parents[p])
        if grand >= 0 and blend > 0:
            w[:4, p] = 1.0 - blend
            w[:4, grand] = blend
        faces.append(_BOX_FACES + 8 * len(vertices))
        vertices.append(_box(rest[p], rest[c], half_width_m))
        weights.append(w)
    if not vertices:
        raise ExportError("bone_boxes: expected at least one bone of non-zero length, found none")
    return SkinnedMesh(np.concatenate(vertices), np.concatenate(faces), np.concatenate(weights), name="Boxes")
