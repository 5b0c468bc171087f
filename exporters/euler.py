"""Euler angles: the one place they are converted to and from rotation matrices.

Everywhere in ``exporters`` (and in ``mocap``) a rotation is a 3x3 matrix acting on column
vectors. Euler angles exist only inside two file formats, and only their mappings use this
module:

- BVH (``exporters.bvh``): rotation channels such as ``Zrotation Xrotation Yrotation`` hold
  intrinsic angles in channel order, ``R = Rz(z) @ Rx(x) @ Ry(y)``; any of ``EULER_ORDERS``.
- FBX (``exporters.fbx``): ``Lcl Rotation`` holds (x, y, z) degrees and ``RotationOrder``
  (``FBX_ROTATION_ORDERS``) says in which order they are applied; the writer uses eEulerXYZ,
  X first: ``R = Rz(z) @ Ry(y) @ Rx(x)``.

Orders are spelled as scipy spells them: upper case letters are intrinsic (the product in
letter order, BVH's channel order), lower case letters extrinsic (applied in letter order,
the product reversed): ``"ZYX"`` and ``"xyz"`` are the same rotation, angles in reverse order.
Angles are in degrees.
"""

from __future__ import annotations

import warnings

import numpy as np

__all__ = [
    "EULER_ORDERS",
    "FBX_ROTATION_ORDERS",
    "euler_to_matrix",
    "matrix_to_euler",
    "tait_bryan_angles",
    "unwrapped_euler",
    "unwrapped_euler_xyz",
    "fbx_euler_to_matrix",
]

EULER_ORDERS = ("XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX")
"""The six Tait-Bryan orders, intrinsic (the orders ``write_bvh`` can write: channel order =
matrix product order)."""
FBX_ROTATION_ORDERS = {0: "xyz", 1: "xzy", 2: "yzx", 3: "yxz", 4: "zxy", 5: "zyx"}
"""FBX ``RotationOrder`` enum -> extrinsic order (eEulerXYZ = 0: ``Rz @ Ry @ Rx``)."""


def _axis_rotation(axis: str, degrees: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation by ``degrees`` (...) about the named axis "X", "Y" or "Z"."""
    radians = np.deg2rad(degrees)
    c, s = np.cos(radians), np.sin(radians)
    i, j = {"X": (1, 2), "Y": (2, 0), "Z": (0, 1)}[axis]
    out = np.zeros((*radians.shape, 3, 3))
    out[..., 3 - i - j, 3 - i - j] = 1.0
    out[..., i, i], out[..., j, j] = c, c
    out[..., i, j], out[..., j, i] = -s, s
    return out


def euler_to_matrix(angles_deg: np.ndarray, axes: str) -> np.ndarray:
    """Rotation matrices from Euler angles (BVH: intrinsic, channel order = product order).

    Args:
        angles_deg: (..., K) degrees, one column per letter of ``axes``.
        axes: K letters, upper case from "XYZ" (intrinsic, e.g. "ZXY" as the rotation channels
            appear in a BVH file) or lower case from "xyz" (extrinsic: applied in letter order).

    Returns:
        (..., 3, 3) ``R = R_axes[0](a0) @ R_axes[1](a1) @ ...`` for upper case (identity when
        K = 0); for lower case the same product in reverse order.
    """
    angles_deg = np.asarray(angles_deg, dtype=np.float64)
    if axes.islower():
        axes, angles_deg = axes[::-1].upper(), angles_deg[..., ::-1]
    out = np.broadcast_to(np.eye(3), (*angles_deg.shape[:-1], 3, 3)).copy()
    for k, axis in enumerate(axes):
        out = out @ _axis_rotation(axis, angles_deg[..., k])
    return out


def matrix_to_euler(rotations: np.ndarray, order: str) -> np.ndarray:
    """Euler angles (degrees) of rotation matrices, the inverse of ``euler_to_matrix``.

    Args:
        rotations: (..., 3, 3) proper rotations.
        order: three letters as for ``euler_to_matrix``: one of ``EULER_ORDERS`` (intrinsic)
            or its lower case (extrinsic).

    Returns:
        (..., 3) degrees, columns in ``order``. The middle angle is in [-90, 90] (first and
        last in (-180, 180]). At gimbal lock (middle angle +-90) the split between the first
        and last angles is not unique; the one returned still gives back the same matrix.
    """
    from scipy.spatial.transform import Rotation  # lazy: scipy.spatial costs ~0.25 s to import
    rotations = np.asarray(rotations, dtype=np.float64)
    batch = rotations.shape[:-2]
    if rotations.size == 0:
        return np.zeros((*batch, 3))
    with warnings.catch_warnings():  # at gimbal lock any split of the outer angles is exact
        warnings.filterwarnings("ignore", message=".*[Gg]imbal lock.*")
        angles = Rotation.from_matrix(rotations.reshape(-1, 3, 3)).as_euler(order, degrees=True)
    return angles.reshape(*batch, 3)


def tait_bryan_angles(rotations: np.ndarray, order: str) -> np.ndarray:
    """``matrix_to_euler`` in closed form (a few array operations, no per-matrix checks:
    several times faster on a long take), for the Tait-Bryan orders (three different axes).

    Args:
        rotations: (..., 3, 3) proper rotations. order: one of ``EULER_ORDERS`` (intrinsic)
            or its lower case (extrinsic).

    Returns:
        (..., 3) degrees in ``order``: the middle angle in [-90, 90], the first and last in
        [-180, 180]. At gimbal lock (the middle angle within 1e-7 rad of +-90 degrees) the
        last angle is 0 and the first carries the whole turn, so the angles still give back
        the matrix.
    """
    rotations = np.asarray(rotations, dtype=np.float64)
    if order.islower():
        return tait_bryan_angles(rotations, order[::-1].upper())[..., ::-1]
    i, j, k = ("XYZ".index(a) for a in order)
    s = 1.0 if (j - i) % 3 == 1 else -1.0      # +1 for the cyclic orders (XYZ, YZX, ZXY)
    R = rotations
    middle = np.arcsin(np.clip(s * R[..., i, k], -1.0, 1.0))
    first = np.arctan2(-s * R[..., j, k], R[..., k, k])
    last = np.arctan2(-s * R[..., i, j], R[..., i, i])
    locked = np.abs(np.cos(middle)) < 1e-7
    if np.any(locked):   # R = R_i(first) R_j(+-90): the first angle from the j-th column
        first = np.where(locked, np.arctan2(s * R[..., k, j], R[..., j, j]), first)
        last = np.where(locked, 0.0, last)
    return np.degrees(np.stack([first, middle, last], axis=-1))


def unwrapped_euler(rotations: np.ndarray, order: str) -> np.ndarray:
    """Euler angles of ``matrix_to_euler(rotations, order)``, continuous over frames.

    Args:
        rotations: (F, J, 3, 3) rotation matrices.
        order: a Tait-Bryan order of ``matrix_to_euler`` (three different axes).

    Returns:
        (F, J, 3) degrees in ``order``'s sequence. Frame 0 has its middle angle in [-90, 90];
        each later frame takes, of the two Euler triples of its matrix ((a, b, c) and
        (a + 180, 180 - b, c + 180)), each shifted by multiples of 360 degrees, the one closest
        to the previous frame's, so that interpolating between keys never spins the long way
        round (a BVH or FBX curve never jumps by 360 degrees).
    """
    rotations = np.asarray(rotations, dtype=np.float64)
    frames, joints = rotations.shape[:2]
    if frames == 0:
        return np.zeros((0, joints, 3))
    angles = tait_bryan_angles(rotations, order)
    alternative = np.stack([angles[..., 0] + 180.0, 180.0 - angles[..., 1], angles[..., 2] + 180.0], axis=-1)
    # Which triple a frame takes depends only on which one the frame before took (the
    # shifts by 360 degrees do not change the distances), so the choice is a two-state chain:
    # both transitions are found for every frame at once, then chained (_follow).
    # The distances are those between frames f - 1 and f of the same triple (equal for both
    # triples) and across (from either one to the other: equal too), so two of the four.
    pick = np.zeros((frames, joints), bool)                                  # True: alternative
    if frames > 1:
        same = _distance2(angles[1:], angles[:-1])                           # (F - 1, J)
        cross = _distance2(alternative[1:], angles[:-1])
        pick[1:] = _follow(cross < same, same < cross)
    chosen = np.where(pick[..., None], alternative, angles)
    turns = np.zeros_like(chosen)
    turns[1:] = np.round((chosen[:-1] - chosen[1:]) / 360.0)
    return chosen + 360.0 * np.cumsum(turns, axis=0)


def _follow(from_first: np.ndarray, from_second: np.ndarray) -> np.ndarray:
    """(N, ...) bool: the state after each of N steps of a two-state chain started in the
    first state (False), step ``n`` going to ``from_first[n]`` from the first state and to
    ``from_second[n]`` from the second (True): the steps composed by a prefix scan (log2 N
    array passes, the same as following them one by one)."""
    img0, img1 = from_first, from_second        # each step's map: its image of each state
    d = 1
    while d < len(img0):                        # img[n] becomes step n after steps n - 2d .. n - d
        later0, later1 = img0[d:], img1[d:]
        img0, img1 = (np.concatenate([img0[:d], np.where(img0[:-d], later1, later0)]),
                      np.concatenate([img1[:d], np.where(img1[:-d], later1, later0)]))
        d *= 2
    return img0


def _distance2(candidates: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """(..., J) squared distance of Euler triples (..., J, 3) from ``previous`` (..., J, 3),
    each angle shifted by the multiple of 360 degrees that brings it nearest (degrees^2)."""
    d = candidates - previous
    turns = d / 360.0
    np.round(turns, out=turns)
    d -= 360.0 * turns
    d *= d
    return d.sum(axis=-1)


def unwrapped_euler_xyz(rotations: np.ndarray) -> np.ndarray:
    """FBX Euler angles (order XYZ, ``R = Rz(z) @ Ry(y) @ Rx(x)``), continuous over frames:
    ``unwrapped_euler(rotations, "xyz")`` as (F, J, 3) degrees (x, y, z)."""
    return unwrapped_euler(rotations, "xyz")


def fbx_euler_to_matrix(angles_deg: np.ndarray, order: int) -> np.ndarray:
    """(..., 3, 3) from FBX Euler angles (x, y, z) in degrees and a ``RotationOrder`` (0 to 5)."""
    angles_deg = np.asarray(angles_deg, dtype=np.float64)
    sequence = FBX_ROTATION_ORDERS[order]
    return euler_to_matrix(angles_deg[..., ["xyz".index(axis) for axis in sequence]], sequence)
