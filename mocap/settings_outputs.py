"""The output tables of ``session.toml`` (``[export]`` and ``[opensim]``), apart from
:mod:`mocap.settings` (which re-exports them) to keep each module small."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar, Literal

from .schema import NON_NEGATIVE, POSITIVE, CheckedTable, Range, at_least

__all__ = ["ExportSettings", "OpenSimSettings", "ExportFormat", "UpAxis", "LengthUnit",
           "C3dUnit", "RestPose", "BoneNaming", "ExportMesh", "OpenSimMarkers"]

# The values a choice allows (``typing.get_args`` gives them as a tuple).
ExportFormat = Literal["bvh", "fbx", "trc", "c3d", "npz"]
UpAxis = Literal["y", "z"]
LengthUnit = Literal["m", "cm", "mm"]
C3dUnit = Literal["mm", "m"]
RestPose = Literal["auto", "neutral", "t", "a"]
BoneNaming = Literal["canonical", "mixamo", "unreal", "metahuman", "blender", "smpl"]
ExportMesh = Literal["body", "boxes", "none"]
OpenSimMarkers = Literal["body", "keypoints"]


@dataclass(frozen=True)
class ExportSettings(CheckedTable):
    """Files written by ``mocap run`` and ``mocap export`` (see :mod:`mocap.export`)."""

    TABLE: ClassVar[str] = "export"

    formats: tuple[ExportFormat, ...] = ("bvh", "fbx", "trc", "c3d", "npz")
    """Which files to write per person: ``bvh``, ``fbx`` (binary), ``trc`` (OpenSim markers),
    ``c3d`` (points), ``npz`` (AMASS-style parameters)."""
    up_axis: UpAxis = "y"
    """Up axis of BVH and FBX files: ``y`` (Blender, most animation tools) or ``z``."""
    units: LengthUnit = "m"
    """Units of BVH and FBX files: ``m`` (a default Blender import is then in metres), ``cm``
    or ``mm``."""
    c3d_units: C3dUnit = "mm"
    """Units of C3D files: ``mm`` (what biomechanics tools expect) or ``m``."""
    naming: BoneNaming = "canonical"
    """Bone names of BVH/FBX/npz skeletons: ``canonical``, ``mixamo``, ``unreal``,
    ``metahuman``, ``blender`` or ``smpl`` (see :mod:`exporters.naming`)."""
    mesh: ExportMesh = "body"
    """Mesh in the FBX: ``body`` (the fitted body's skinned mesh when the person has one, else
    none), ``boxes`` (a box around every bone, skinned to it) or ``none``."""
    foot_lock: bool = True
    """BVH, FBX: pin the feet during foot contacts (two-bone IK, the pelvis lowered only where a
    leg cannot reach, blended; :mod:`mocap.export.footlock`). TRC, C3D, npz stay measured."""
    floor_snap: bool = True
    """BVH, FBX: lift a foot that would go under the floor (z = 0)."""
    lock_blend_s: Annotated[float, Range(0.0, 1.0)] = 0.15
    """Seconds over which a foot lock fades in before and out after a contact."""
    contact_height_m: Annotated[float, Range(0.0, 0.5, low_open=True)] = 0.04
    """A heel or toe touches the floor when at most this high above its own floor level
    (``out/person<p>/contacts.csv``, :mod:`mocap.export.contacts`)."""
    contact_speed_m_per_s: Annotated[float, Range(0.0, 5.0, low_open=True)] = 0.3
    """... and at most this fast."""
    contact_min_s: Annotated[float, Range(0.0, 2.0)] = 0.05
    """Contacts and gaps between contacts shorter than this are removed."""
    rest_pose: RestPose = "auto"
    """BVH/FBX rest pose: ``t``, ``a``, ``neutral`` (the actor's average pose) or ``auto``: the
    naming preset's (T: Mixamo, Rigify, SMPL; A: Unreal, MetaHuman; canonical: neutral)."""
    in_place: bool = False
    """BVH/FBX: keep the hips over the origin (height and turns kept), for loops and games."""
    root_motion: Literal["hips", "root"] = "hips"
    """BVH/FBX: the way over the floor on the hips, or on a root bone at the floor under them
    that turns with the pelvis (games; at the origin ``in_place``; :mod:`exporters.root_motion`)."""


@dataclass(frozen=True)
class OpenSimSettings(CheckedTable):
    """OpenSim scaling and inverse kinematics per person (``mocap opensim``, see
    :mod:`mocap.opensim`)."""

    TABLE: ClassVar[str] = "opensim"

    enabled: bool = False
    """Run scaling and inverse kinematics as a stage of ``mocap run``."""
    mass_kg: Annotated[float, POSITIVE] = 70.0
    """Body mass given to the scaled model (kinematics do not depend on it)."""
    min_frames: Annotated[int, at_least(1)] = 10
    """Fewest frames with the markers IK needs (hips, knees, ankles and 60 % of the markers)
    for a person to be solved; a person seen in fewer is an error naming the person."""
    workers: Annotated[int, NON_NEGATIVE] = 0
    """Processes solving people in parallel; 0: one per person, at most the CPUs."""
    markers: OpenSimMarkers = "body"
    """What OpenSim scales and solves: "body", virtual markers on the fitted body
    (``person<N>/body.npz``; the model scaled to it), or "keypoints", the 3D keypoints as
    Pose2Sim's markers."""
