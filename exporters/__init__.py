"""Skeletons, motions and the files they are written to (BVH, FBX, TRC, C3D, AMASS-style .npz).

A library on its own: it knows nothing of cameras or of the capture pipeline. Internally the
world is right-handed, Z up, metres, and rotations are 3x3 matrices (see
``exporters.skeleton``); axis and unit changes happen only in the writers and readers, with
the functions of ``exporters.axes``, and Euler angles only inside BVH and FBX files (see
``exporters.euler``). FBX lives in the package ``exporters.fbx`` (``write_fbx``, ``read_fbx``)
over its binary layer ``exporters.fbx_format`` (``python -m exporters.fbx_format FILE`` dumps
any binary FBX file); neither is imported here. Files are written atomically
(``exporters.atomic``).
"""

from exporters.atomic import atomic_write
from exporters.axes import rotation_yup_to_zup, rotation_zup_to_yup, units_per_metre, yup_to_zup, zup_to_yup
from exporters.amass import AmassMotion, read_amass, write_amass
from exporters.bvh import read_bvh, write_bvh
from exporters.c3d import read_c3d, write_c3d
from exporters.errors import ExportError, FormatError, MotionError, SkeletonError
from exporters.from_positions import estimate_bone_lengths, motion_from_positions, skeleton_from_positions
from exporters.mesh import SkinnedMesh, linear_blend_skinning
from exporters.naming import rename_skeleton
from exporters.skeleton import Motion, Skeleton, forward_kinematics

__all__ = [
    "AmassMotion",
    "ExportError",
    "FormatError",
    "Motion",
    "MotionError",
    "Skeleton",
    "SkeletonError",
    "SkinnedMesh",
    "atomic_write",
    "estimate_bone_lengths",
    "forward_kinematics",
    "linear_blend_skinning",
    "motion_from_positions",
    "read_amass",
    "read_bvh",
    "read_c3d",
    "rename_skeleton",
    "rotation_yup_to_zup",
    "rotation_zup_to_yup",
    "skeleton_from_positions",
    "units_per_metre",
    "write_amass",
    "write_bvh",
    "write_c3d",
    "yup_to_zup",
    "zup_to_yup",
]
