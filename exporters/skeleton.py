"""Skeleton (rest pose), Motion (local rotations per frame) and forward kinematics.

Conventions, stated once for the whole package:

- World frame: right-handed, Z up, metres (the floor is z = 0 once a rig is world-aligned).
- Joints are ordered so that every parent index is smaller than its child's index; the single
  root is joint 0 with parent -1. A loop over joints in index order is a topological order.
- ``Skeleton.offsets[j]`` is the rest-pose vector from joint ``parents[j]`` to joint ``j``,
  expressed in the world frame of the rest pose (not in any joint's own frame). The root's
  offset is the rest position of the root in the world.
- ``Motion.rotations[f, j]`` is the LOCAL rotation of joint ``j`` relative to its parent
  (the root's is relative to the world), a 3x3 rotation matrix acting on column vectors.
- Forward kinematics (``forward_kinematics``)::

      global_R[root] = local_R[root]            pos[root] = root_translation
      global_R[j]    = global_R[parent] @ local_R[j]
      pos[j]         = pos[parent] + global_R[parent] @ offsets[j]

  so identity local rotations reproduce the rest pose (shifted to ``root_translation``).
  This is the BVH convention (a joint's rotation moves its children, not itself).
- A non-root joint may also translate (``Motion.translations``: a root bone at the floor
  under moving hips): its per-frame vector ``t[f]`` from the parent replaces ``offsets[j]``
  in the same frame, ``pos[j] = pos[parent] + global_R[parent] @ t[f]`` (BVH position
  channels on a non-root joint, as Blender reads them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from exporters.errors import MotionError, SkeletonError

__all__ = ["Skeleton", "Motion", "forward_kinematics", "validate_parents"]

ROTATION_TOLERANCE = 1e-6
"""Largest accepted |R^T R - I| entry and |det R - 1| for a matrix to count as a rotation."""


def _frozen_array(values: np.ndarray) -> np.ndarray:
    """Return a read-only float64/int copy so a frozen dataclass is really immutable."""
    out = np.array(values, copy=True)
    out.flags.writeable = False
    return out


def validate_parents(parents: np.ndarray, num_joints: int | None = None) -> np.ndarray:
    """Check a parent array and return it as a read-only int64 array.

    Args:
        parents: (J,) integers; -1 for the root, which must be joint 0 and the only one;
            every other entry a valid index smaller than its own position.
        num_joints: the expected J, when known.

    Raises:
        SkeletonError: naming the first offending joint index.
    """
    arr = np.asarray(parents)
    if arr.ndim != 1 or arr.size == 0:
        raise SkeletonError(f"parents: expected shape (J,) with J >= 1, found shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise SkeletonError(f"parents: expected integers, found dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if num_joints is not None and arr.shape[0] != num_joints:
        raise SkeletonError(f"parents: expected {num_joints} entries (one per joint), found {arr.shape[0]}")
    if arr[0] != -1:
        raise SkeletonError(f"parents[0]: expected -1 (joint 0 is the root), found {arr[0]}")
    for j in range(1, arr.shape[0]):
        if not 0 <= arr[j] < j:
            raise SkeletonError(
                f"parents[{j}]: expected a parent index in [0, {j - 1}] (parents come before "
                f"children, single root), found {arr[j]}"
            )
    return _frozen_array(arr)


def _check_joint_names(joint_names: tuple[str, ...]) -> None:
    """Raise SkeletonError unless the names are non-empty, unique strings."""
    seen: dict[str, int] = {}
    for j, name in enumerate(joint_names):
        if not isinstance(name, str) or not name:
            raise SkeletonError(f"joint_names[{j}]: expected a non-empty string, found {name!r}")
        if name in seen:
            raise SkeletonError(f"joint_names[{j}]: name {name!r} already used by joint {seen[name]}")
        seen[name] = j


@dataclass(frozen=True, eq=False)
class Skeleton:
    """A tree of joints with its rest pose.

    Attributes:
        joint_names: (J,) unique joint names.
        parents: (J,) int64, -1 for the root (joint 0); ``parents[j] < j`` otherwise.
        offsets: (J, 3) float64, metres, world frame of the rest pose (Z up): the vector from
            the parent to the joint; for the root, the rest position of the root.
    """

    joint_names: tuple[str, ...]
    parents: np.ndarray
    offsets: np.ndarray

    def __post_init__(self) -> None:
        names = tuple(self.joint_names)
        _check_joint_names(names)
        parents = validate_parents(self.parents, len(names))
        offsets = np.asarray(self.offsets, dtype=np.float64)
        if offsets.shape != (len(names), 3):
            raise SkeletonError(f"offsets: expected shape ({len(names)}, 3), found {offsets.shape}")
        bad = np.flatnonzero(~np.all(np.isfinite(offsets), axis=1))
        if bad.size:
            j = int(bad[0])
            raise SkeletonError(f"offsets[{j}] (joint {names[j]!r}): expected finite metres, found {offsets[j]}")
        object.__setattr__(self, "joint_names", names)
        object.__setattr__(self, "parents", parents)
        object.__setattr__(self, "offsets", _frozen_array(offsets))

    @property
    def num_joints(self) -> int:
        """J, the number of joints."""
        return len(self.joint_names)

    def index(self, name: str) -> int:
        """Index of the joint called ``name``; SkeletonError if there is none."""
        try:
            return self.joint_names.index(name)
        except ValueError:
            raise SkeletonError(f"joint {name!r}: expected one of {list(self.joint_names)}, found none") from None

    def children(self, j: int) -> tuple[int, ...]:
        """Indices of the joints whose parent is ``j``, in increasing order."""
        return tuple(int(c) for c in np.flatnonzero(self.parents == j))

    def rest_positions(self) -> np.ndarray:
        """(J, 3) metres, world frame: joint positions in the rest pose."""
        positions = np.empty_like(self.offsets)
        for j, p in enumerate(self.parents):
            positions[j] = self.offsets[j] if p < 0 else positions[p] + self.offsets[j]
        return positions


def _det3(m: np.ndarray) -> np.ndarray:
    """(...) determinants of (..., 3, 3) matrices by the rule of Sarrus (a long take's
    rotations in a few array operations; ``np.linalg.det`` factorises each one)."""
    return (m[..., 0, 0] * (m[..., 1, 1] * m[..., 2, 2] - m[..., 1, 2] * m[..., 2, 1])
            - m[..., 0, 1] * (m[..., 1, 0] * m[..., 2, 2] - m[..., 1, 2] * m[..., 2, 0])
            + m[..., 0, 2] * (m[..., 1, 0] * m[..., 2, 1] - m[..., 1, 1] * m[..., 2, 0]))


def _check_rotations(rotations: np.ndarray, name: str) -> None:
    """Raise MotionError naming the first frame/joint whose matrix is not finite or not a rotation.

    One pass over the whole array when every matrix is fine (the usual case: whole-array
    reductions); the per-matrix errors are made only to name the first bad one.

    Args:
        rotations: (F, J, 3, 3).
        name: how the array is called in the message.
    """
    if np.isfinite(rotations).all():
        gram = np.swapaxes(rotations, -1, -2) @ rotations - np.eye(3)
        if max(np.abs(gram).max(initial=0.0),
               np.abs(_det3(rotations) - 1.0).max(initial=0.0)) <= ROTATION_TOLERANCE:
            return
    finite = np.all(np.isfinite(rotations), axis=(-2, -1))
    if not np.all(finite):
        f, j = np.argwhere(~finite)[0]
        raise MotionError(
            f"{name}[frame {f}, joint {j}]: expected a finite rotation matrix, found {rotations[f, j].tolist()}"
        )
    gram = np.einsum("...ki,...kj->...ij", rotations, rotations) - np.eye(3)
    error = np.maximum(np.abs(gram).max(axis=(-2, -1)), np.abs(_det3(rotations) - 1.0))
    bad = error > ROTATION_TOLERANCE
    if np.any(bad):
        f, j = np.argwhere(bad)[0]
        raise MotionError(
            f"{name}[frame {f}, joint {j}]: expected a proper rotation (R^T R = I, det R = 1, "
            f"tolerance {ROTATION_TOLERANCE:g}), found an error of {error[f, j]:.3g}"
        )


def _checked_translations(translations: Mapping[int, np.ndarray], frames_joints: tuple[int, ...]
                          ) -> Mapping[int, np.ndarray]:
    """A {joint: (F, 3) read-only array} copy, by joint; MotionError naming a bad entry."""
    num_frames, num_joints = frames_joints
    out = {}
    for j, values in dict(translations).items():
        if not isinstance(j, (int, np.integer)) or not 1 <= j < num_joints:
            raise MotionError(f"translations: expected joint indices in [1, {num_joints - 1}], found {j!r}")
        arr = np.asarray(values, dtype=np.float64)
        if arr.shape != (num_frames, 3) or not np.all(np.isfinite(arr)):
            raise MotionError(f"translations[{j}]: expected ({num_frames}, 3) finite metres, found shape {arr.shape}")
        out[int(j)] = _frozen_array(arr)
    return dict(sorted(out.items()))


@dataclass(frozen=True, eq=False)
class Motion:
    """Joint rotations of a skeleton over time.

    Attributes:
        rotations: (F, J, 3, 3) float64 rotation matrices: LOCAL rotation of each joint
            relative to its parent (the root's relative to the world); see the module docstring.
        root_translation: (F, 3) float64, metres, world frame: position of the root joint.
        fps: frames per second, finite and > 0. Frame ``f`` is at time ``f / fps`` seconds.
        translations: {joint index j >= 1: (F, 3) float64 metres}: the joints that translate
            besides the root, each frame's vector from the parent replacing the skeleton's
            ``offsets[j]`` (same frame; see the module docstring). Empty for most motions.
    """

    rotations: np.ndarray
    root_translation: np.ndarray
    fps: float
    translations: Mapping[int, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        rotations = np.asarray(self.rotations, dtype=np.float64)
        if rotations.ndim != 4 or rotations.shape[2:] != (3, 3):
            raise MotionError(f"rotations: expected shape (F, J, 3, 3), found {rotations.shape}")
        translation = np.asarray(self.root_translation, dtype=np.float64)
        if translation.shape != (rotations.shape[0], 3):
            raise MotionError(f"root_translation: expected shape ({rotations.shape[0]}, 3), found {translation.shape}")
        fps = float(self.fps)
        if not np.isfinite(fps) or fps <= 0:
            raise MotionError(f"fps: expected a finite number > 0, found {self.fps!r}")
        bad = np.flatnonzero(~np.all(np.isfinite(translation), axis=1))
        if bad.size:
            f = int(bad[0])
            raise MotionError(f"root_translation[frame {f}]: expected finite metres, found {translation[f].tolist()}")
        _check_rotations(rotations, "rotations")
        object.__setattr__(self, "translations", _checked_translations(self.translations, rotations.shape[:2]))
        object.__setattr__(self, "rotations", _frozen_array(rotations))
        object.__setattr__(self, "root_translation", _frozen_array(translation))
        object.__setattr__(self, "fps", fps)

    @property
    def num_frames(self) -> int:
        """F, the number of frames."""
        return int(self.rotations.shape[0])

    @property
    def num_joints(self) -> int:
        """J, the number of joints."""
        return int(self.rotations.shape[1])

    def positions(self, skeleton: Skeleton) -> np.ndarray:
        """(F, J, 3) metres, world frame: every joint's position (``forward_kinematics``)."""
        return forward_kinematics(skeleton, self.rotations, self.root_translation, self.translations)[0]

    def check_matches(self, skeleton: Skeleton) -> None:
        """Raise MotionError unless this motion has one rotation per joint of ``skeleton``."""
        if self.num_joints != skeleton.num_joints:
            raise MotionError(
                f"rotations: expected {skeleton.num_joints} joints (the skeleton's), found {self.num_joints}"
            )


def forward_kinematics(
    skeleton: Skeleton, rotations: np.ndarray, root_translation: np.ndarray,
    translations: Mapping[int, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Joint positions and global rotations from local rotations (see the module docstring).

    A pure function: values are not checked (NaN propagates), only shapes.

    Args:
        skeleton: the skeleton, J joints.
        rotations: (..., J, 3, 3) local rotation matrices (root: relative to the world).
        root_translation: (..., 3) metres, world frame: root position per frame.
        translations: {joint: (..., 3) metres} per-frame offsets of translating non-root
            joints (``Motion.translations``); None or empty: none.

    Returns:
        positions: (..., J, 3) metres, world frame.
        global_rotations: (..., J, 3, 3) rotation of each joint relative to the world.
    """
    rotations = np.asarray(rotations, dtype=np.float64)
    root_translation = np.asarray(root_translation, dtype=np.float64)
    num_joints = skeleton.num_joints
    if rotations.ndim < 3 or rotations.shape[-3:] != (num_joints, 3, 3):
        raise MotionError(f"rotations: expected shape (..., {num_joints}, 3, 3), found {rotations.shape}")
    batch = rotations.shape[:-3]
    if root_translation.shape != (*batch, 3):
        raise MotionError(f"root_translation: expected shape {(*batch, 3)}, found {root_translation.shape}")
    global_rotations = np.empty_like(rotations)
    positions = np.empty((*batch, num_joints, 3))
    translations = translations or {}
    for j, p in enumerate(skeleton.parents):
        if p < 0:
            global_rotations[..., j, :, :] = rotations[..., j, :, :]
            positions[..., j, :] = root_translation
            continue
        global_rotations[..., j, :, :] = global_rotations[..., p, :, :] @ rotations[..., j, :, :]
        offset = np.asarray(translations[j])[..., None] if j in translations else skeleton.offsets[j]
        positions[..., j, :] = positions[..., p, :] + (global_rotations[..., p, :, :] @ offset).reshape(*batch, 3)
    return positions, global_rotations
