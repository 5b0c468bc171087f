"""BVH export and import of a ``Skeleton`` + ``Motion`` (the mapping onto ``bvh_format``).

What ``write_bvh`` writes (BVH has no comments, so it is stated here):

- Axes: ``up="y"`` (default) converts the internal Z-up world with ``zup_to_yup``
  ((x, y, z) -> (x, z, -y), see ``exporters.axes``): the file imports into Blender with the
  default options (forward -Z, up Y) at the same coordinates as our world. ``up="z"`` writes
  the internal axes unchanged.
- Units: ``units="m"`` (default), ``"cm"`` or ``"mm"`` for OFFSETs and root positions. BVH
  has no unit field and Blender's importer maps one file unit to one Blender unit (its default
  ``global_scale`` 1.0), so metres, Y up, give a default Blender import in metres, Z up, at our
  world coordinates (checked in Blender by tests/exporters/test_export_blender.py).
- Joints in depth-first order from the root (children by increasing index). When the
  skeleton's order is already depth first (the usual case), ``read_bvh`` gives back the same
  order; otherwise joints come back in depth-first order, with the same names.
- ROOT: ``OFFSET`` = the root's rest position; 6 channels ``Xposition Yposition Zposition``
  (the root's absolute position in the file frame, as Blender and the CMU files read it; the
  OFFSET is not added) then 3 rotation channels. Other joints: 3 rotation channels, except a
  joint that translates (``Motion.translations``: hips under a root bone at the floor), which
  gets the same 6 channels holding its per-frame vector from the parent (replacing its
  OFFSET, in the parent's rest axes: how Blender reads position channels on a child).
- Rotations: each joint's LOCAL rotation (``Motion.rotations``, converted to the file axes by
  conjugation), as Euler angles in degrees in the order ``euler_order``, intrinsic, the BVH
  meaning: channels ``Zrotation Xrotation Yrotation`` hold (z, x, y) with
  ``R = Rz(z) @ Rx(x) @ Ry(y)`` acting on column vectors (conversions: ``exporters.euler``).
- Leaf joints get an ``End Site`` at ``END_SITE_FRACTION`` (0.1) x their own bone vector (a
  short stub along the bone), or ``END_SITE_FALLBACK_M`` (5 cm up) for a zero-length bone.
  ``read_bvh`` ignores End Sites.
- ``Frame Time`` = 1 / fps seconds (12 decimals); numbers in fixed point with 6 decimals, or
  more when the units are coarse, so positions are written to 1e-8 m (``POSITION_STEP_M``)
  and angles to 1e-6 degree.

``read_bvh`` reads any standard BVH (any channel order per joint, End Sites, CRLF) and
converts back to the internal Z-up metres frame given the file's ``up`` and ``units``.
Position channels on non-root joints become ``Motion.translations`` (coordinates without a
channel from the joint's OFFSET).
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path

import numpy as np

from exporters.atomic import atomic_write
from exporters.axes import (check_up_units, from_file_points, rotation_yup_to_zup, rotation_zup_to_yup,
                            to_file_points, units_per_metre)
from exporters.bvh_format import BvhDocument, BvhJoint, parse_bvh, write_document
from exporters.errors import ExportError, FormatError, MotionError, SkeletonError
from exporters.euler import EULER_ORDERS, euler_to_matrix, unwrapped_euler
from exporters.skeleton import Motion, Skeleton

__all__ = [
    "END_SITE_FRACTION",
    "write_bvh",
    "read_bvh",
    "skeleton_motion_to_bvh",
    "bvh_to_skeleton_motion",
]

logger = logging.getLogger(__name__)

END_SITE_FRACTION = 0.1
"""End Site offset of a leaf joint, as a fraction of the leaf's own bone vector."""
END_SITE_FALLBACK_M = np.array([0.0, 0.0, 0.05])
"""End Site offset (metres, internal Z-up frame) of a leaf whose bone has zero length."""
POSITION_STEP_M = 1e-8
"""Resolution of written positions, metres (sets the number of decimals with the units)."""
ANGLE_DECIMALS = 6
"""Minimum decimals written for every number (angles in degrees: 1e-6 degree)."""


# ----------------------------------------------------------------------------- frames and units


def _decimals(scale: float) -> int:
    """Digits after the point so that a written position resolves ``POSITION_STEP_M``."""
    return max(ANGLE_DECIMALS, math.ceil(-math.log10(POSITION_STEP_M * scale) - 1e-9))


# ----------------------------------------------------------------------------- writing


def _depth_first(parents: np.ndarray) -> list[int]:
    """Joint indices in depth-first pre-order from the root, children by increasing index."""
    order, stack = [], [0]
    while stack:
        j = stack.pop()
        order.append(j)
        stack.extend(int(c) for c in np.flatnonzero(parents == j)[::-1])
    return order


def _check_bvh_names(names: tuple[str, ...]) -> None:
    """Raise ExportError for a name BVH cannot hold as one token."""
    for j, name in enumerate(names):
        if any(ch.isspace() for ch in name) or "{" in name or "}" in name:
            raise ExportError(f"joint {j} name {name!r}: expected no whitespace or braces in a BVH name, found some")


def _end_site_m(skeleton: Skeleton, j: int) -> np.ndarray:
    """(3,) metres, internal frame: End Site offset of leaf joint ``j``."""
    bone = skeleton.offsets[j] if skeleton.parents[j] >= 0 else np.zeros(3)
    return END_SITE_FRACTION * bone if np.linalg.norm(bone) > 1e-9 else END_SITE_FALLBACK_M


def skeleton_motion_to_bvh(
    skeleton: Skeleton, motion: Motion, *, up: str = "y", units: str = "m", euler_order: str = "ZXY"
) -> BvhDocument:
    """The ``BvhDocument`` that ``write_bvh`` writes (see the module docstring)."""
    motion.check_matches(skeleton)
    scale = check_up_units(up, units)
    if euler_order not in EULER_ORDERS:
        raise ExportError(f"euler_order: expected one of {list(EULER_ORDERS)}, found {euler_order!r}")
    _check_bvh_names(skeleton.joint_names)
    order = _depth_first(skeleton.parents)
    new_index = {old: new for new, old in enumerate(order)}
    rotations = rotation_zup_to_yup(motion.rotations) if up == "y" else motion.rotations
    angles = unwrapped_euler(rotations, euler_order)  # (F, J, 3) degrees, no 360-degree jumps
    offsets = to_file_points(skeleton.offsets, up, scale)
    rotation_channels = tuple(f"{axis}rotation" for axis in euler_order)
    joints, columns = [], []
    for j in order:
        parent = int(skeleton.parents[j])
        leaf = not skeleton.children(j)
        end_site = to_file_points(_end_site_m(skeleton, j), up, scale) if leaf else None
        channels = rotation_channels
        if parent < 0 or j in motion.translations:
            channels = ("Xposition", "Yposition", "Zposition", *rotation_channels)
            moves = motion.root_translation if parent < 0 else motion.translations[j]
            columns.append(to_file_points(moves, up, scale))
        columns.append(angles[:, j])
        joints.append(BvhJoint(skeleton.joint_names[j], new_index.get(parent, -1), offsets[j], channels, end_site))
    values = np.concatenate(columns, axis=1) if columns else np.zeros((motion.num_frames, 0))
    return BvhDocument(tuple(joints), 1.0 / motion.fps, values)


def write_bvh(
    path: str | os.PathLike[str],
    skeleton: Skeleton,
    motion: Motion,
    *,
    up: str = "y",
    units: str = "m",
    euler_order: str = "ZXY",
) -> None:
    """Write ``skeleton`` + ``motion`` as a BVH file (axes, units and layout: module docstring).

    Args:
        path: destination; written atomically (nothing is left behind on an error, and an
            existing file is only replaced by a complete one).
        skeleton: J joints, offsets in metres, internal Z-up world frame.
        motion: F frames of local rotations and root positions (metres, Z up) for ``skeleton``.
        up: "y" (Blender/FBX convention, default) or "z" (internal axes).
        units: "m" (default), "cm" or "mm".
        euler_order: one of ``EULER_ORDERS``; the rotation channels' order (default "ZXY").

    Raises:
        ExportError (MotionError for a motion of the wrong joint count): bad arguments or
        joint names BVH cannot hold.
    """
    doc = skeleton_motion_to_bvh(skeleton, motion, up=up, units=units, euler_order=euler_order)
    with atomic_write(path, "w", encoding="utf-8", newline="\n") as handle:
        write_document(handle, doc, decimals=_decimals(units_per_metre(units)))
    logger.info("wrote %s: %d joints, %d frames at %g fps", path, skeleton.num_joints, motion.num_frames, motion.fps)


# ----------------------------------------------------------------------------- reading


def _read_text(path: Path) -> str:
    """The file's text: UTF-8, or Latin-1 when it is not valid UTF-8."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _joint_rotations(joint: BvhJoint, values: np.ndarray) -> np.ndarray:
    """(F, 3, 3) local rotation in the file axes from the joint's rotation channels.

    Args:
        joint: the joint, its channels in file order.
        values: (F, len(joint.channels)) its columns of the MOTION block, degrees.
    """
    picks = [k for k, name in enumerate(joint.channels) if name.endswith("rotation")]
    axes = "".join(joint.channels[k][0] for k in picks)
    return euler_to_matrix(values[:, picks], axes)


def _positions(joint: BvhJoint, values: np.ndarray) -> np.ndarray:
    """(F, 3) a joint's position in the file from its position channels (the root's absolute,
    another joint's from its parent, as Blender reads them); coordinates without a channel
    come from the OFFSET."""
    positions = np.broadcast_to(joint.offset, (values.shape[0], 3)).copy()
    for k, name in enumerate(joint.channels):
        if name.endswith("position"):
            positions[:, "XYZ".index(name[0])] = values[:, k]
    return positions


def bvh_to_skeleton_motion(doc: BvhDocument, *, up: str = "y", units: str = "m") -> tuple[Skeleton, Motion]:
    """Map a parsed BVH document to a Skeleton and Motion in the internal Z-up metres frame.

    Args:
        doc: the parsed file, in its own axes and units.
        up: the file's up axis, "y" or "z".
        units: the file's units, "cm", "m" or "mm".
    """
    scale = check_up_units(up, units)
    columns = doc.channel_columns()
    num_frames = doc.values.shape[0]
    local = np.empty((num_frames, len(doc.joints), 3, 3))
    translations = {}
    for j, joint in enumerate(doc.joints):
        values = doc.values[:, columns[j]]
        local[:, j] = _joint_rotations(joint, values)
        if j > 0 and any(name.endswith("position") for name in joint.channels):
            translations[j] = from_file_points(_positions(joint, values), up, scale)
    root = _positions(doc.joints[0], doc.values[:, columns[0]])
    names = tuple(joint.name for joint in doc.joints)
    parents = np.array([joint.parent for joint in doc.joints])
    offsets = from_file_points(np.array([joint.offset for joint in doc.joints]), up, scale)
    rotations = rotation_yup_to_zup(local) if up == "y" else local
    skeleton = Skeleton(names, parents, offsets)
    motion = Motion(rotations, from_file_points(root, up, scale), 1.0 / doc.frame_time_s, translations)
    return skeleton, motion


def read_bvh(path: str | os.PathLike[str], *, up: str = "y", units: str = "m") -> tuple[Skeleton, Motion]:
    """Read a BVH file into the internal Z-up metres frame.

    Args:
        path: the file.
        up: the file's up axis, "y" (default, as ``write_bvh`` writes) or "z".
        units: the file's units, "m" (default), "cm" or "mm".

    Returns:
        skeleton: joints in file (depth-first) order; offsets in metres, Z up.
        motion: local rotations, root positions in metres (Z up), fps = 1 / Frame Time.

    Raises:
        FormatError: the file cannot be parsed (naming the file and line).
        FileNotFoundError: no such file.
    """
    check_up_units(up, units)
    source = Path(path)
    doc = parse_bvh(_read_text(source), str(source))
    try:
        return bvh_to_skeleton_motion(doc, up=up, units=units)
    except (SkeletonError, MotionError) as error:
        raise FormatError(str(source), "content", "a valid skeleton and motion", str(error)) from error
