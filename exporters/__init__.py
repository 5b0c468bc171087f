"""Skeletons, motions and the files they are written to (BVH; later FBX, TRC, C3D, .npz).

A library on its own: it knows nothing of cameras or of the capture pipeline. Internally the
world is right-handed, Z up, metres, and rotations are 3x3 matrices (see
``exporters.skeleton``); axis and unit changes happen only in the writers and readers, with
the functions of ``exporters.axes``.
"""

from exporters._atomic import atomic_write
from exporters.axes import rotation_yup_to_zup, rotation_zup_to_yup, units_per_metre, yup_to_zup, zup_to_yup
from exporters.bvh import read_bvh, write_bvh
from exporters.errors import ExportError, FormatError, MotionError, SkeletonError
from exporters.from_positions import estimate_bone_lengths, motion_from_positions, skeleton_from_positions
from exporters.skeleton import Motion, Skeleton, forward_kinematics

__all__ = [
    "ExportError",
    "FormatError",
    "Motion",
    "MotionError",
    "Skeleton",
    "SkeletonError",
    "atomic_write",
    "estimate_bone_lengths",
    "forward_kinematics",
    "motion_from_positions",
    "read_bvh",
    "rotation_yup_to_zup",
    "rotation_zup_to_yup",
    "skeleton_from_positions",
    "units_per_metre",
    "write_bvh",
    "yup_to_zup",
    "zup_to_yup",
]
