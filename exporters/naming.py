"""Naming presets: rename a skeleton's joints so its armature maps onto common rigs.

Our skeletons name joints with one canonical vocabulary (``pelvis``, ``left_hip``,
``left_knee``, ``spine1``... shared by the keypoint formats and the SMPL body model). A preset
gives each canonical name the bone name a rig uses; a joint's name is the name of the bone
that STARTS at it (the bone from the hip to the knee is the hip joint's: Mixamo's
``LeftUpLeg``, Blender's ``thigh.L``), which is how every one of these rigs names bones.

Presets (``PRESETS``):

- ``canonical``: the names unchanged.
- ``mixamo``: Mixamo's ``mixamorig:Hips``, ``mixamorig:LeftUpLeg``, ... (the prefix is part
  of the names Mixamo files carry; retargeting tools match on it).
- ``unreal``: the Unreal Engine mannequin's ``pelvis``, ``thigh_l``, ``calf_l``, ``upperarm_l``...
- ``metahuman``: Unreal Engine 5's Manny/Quinn and MetaHuman skeleton: ``spine_01`` to
  ``spine_05`` (ours fill 01, 03, 05), ``neck_01``, ``clavicle_l``, ``ball_l``...
- ``blender``: Blender's Rigify human meta-rig ``spine``, ``thigh.L``, ``shin.L``, ``upper_arm.L``...
- ``smpl``: the SMPL add-ons' ``Pelvis``, ``L_Hip``, ``L_Knee``, ``Spine1``...

A joint without an entry in a preset's table gets the preset's style applied to its canonical
name (``left_heel`` -> Mixamo ``mixamorig:LeftHeel``, Unreal ``heel_l``, Blender ``heel.L``,
SMPL ``L_Heel``), so every skeleton can be renamed; two joints that would get the same name
raise ``SkeletonError``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from exporters.errors import SkeletonError
from exporters.skeleton import Skeleton

__all__ = ["NamingPreset", "PRESETS", "preset_names", "bone_name", "root_bone_name", "rename_skeleton"]

_SIDES = (("left_", "Left", "_l", ".L", "L_"), ("right_", "Right", "_r", ".R", "R_"))


def _camel(words: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in words.split("_") if part)


def _split_side(name: str) -> tuple[int | None, str]:
    """(0 left / 1 right / None, the name without its side prefix)."""
    for k, side in enumerate(_SIDES):
        if name.startswith(side[0]):
            return k, name[len(side[0]):]
    return None, name


def _mixamo_style(name: str) -> str:
    side, rest = _split_side(name)
    return ("" if side is None else _SIDES[side][1]) + _camel(rest)


def _unreal_style(name: str) -> str:
    side, rest = _split_side(name)
    return rest + ("" if side is None else _SIDES[side][2])


def _blender_style(name: str) -> str:
    side, rest = _split_side(name)
    return rest + ("" if side is None else _SIDES[side][3])


def _smpl_style(name: str) -> str:
    side, rest = _split_side(name)
    return ("" if side is None else _SIDES[side][4]) + _camel(rest)


def _sided(table: dict[str, str]) -> dict[str, str]:
    """Expand ``{"left_x": ...}`` entries written for the left side to both sides."""
    out = {}
    for name, target in table.items():
        out[name] = target
        if name.startswith("left_"):
            out["right_" + name[5:]] = target.replace("Left", "Right").replace("_l", "_r").replace(
                ".L", ".R").replace("L_", "R_")
    return out


@dataclass(frozen=True)
class NamingPreset:
    """Bone names of one rig.

    Attributes:
        name: the preset's key in ``PRESETS``.
        table: canonical joint name -> bone name (without ``prefix``).
        style: how a canonical name without an entry is spelled.
        prefix: put before every name (Mixamo: ``"mixamorig:"``).
        description: one line for help texts.
        root: the name of a root bone at the floor (``[export] root_motion = "root"``): the
            rig's own (Unreal, MetaHuman, Rigify's generated rig: ``root``), ``root`` where the
            rig has none (Mixamo, SMPL); never prefixed.
    """

    name: str
    table: dict[str, str]
    style: Callable[[str], str]
    prefix: str = ""
    description: str = ""
    root: str = "root"


PRESETS: dict[str, NamingPreset] = {
    "canonical": NamingPreset("canonical", {}, lambda n: n, "", "our canonical joint names, unchanged"),
    "mixamo": NamingPreset("mixamo", _sided({
        "pelvis": "Hips", "spine1": "Spine", "spine2": "Spine1", "spine3": "Spine2", "neck": "Neck",
        "upper_neck": "Head", "head": "Head", "head_top": "HeadTop_End",
        "left_eye": "LeftEye", "left_collar": "LeftShoulder", "left_shoulder": "LeftArm",
        "left_elbow": "LeftForeArm", "left_wrist": "LeftHand", "left_hand": "LeftHandMiddle1",
        "left_hip": "LeftUpLeg", "left_knee": "LeftLeg", "left_ankle": "LeftFoot", "left_foot": "LeftToeBase",
        "left_big_toe": "LeftToeBase", "left_small_toe": "LeftToe_End",
    }), _mixamo_style, "mixamorig:", "Mixamo rigs (mixamorig:Hips, mixamorig:LeftUpLeg, ...)"),
    "unreal": NamingPreset("unreal", _sided({
        "pelvis": "pelvis", "spine1": "spine_01", "spine2": "spine_02", "spine3": "spine_03", "neck": "neck_01",
        "upper_neck": "head", "head": "head", "left_collar": "clavicle_l", "left_shoulder": "upperarm_l",
        "left_elbow": "lowerarm_l", "left_wrist": "hand_l", "left_hand": "middle_01_l", "left_hip": "thigh_l",
        "left_knee": "calf_l", "left_ankle": "foot_l", "left_foot": "ball_l", "left_big_toe": "ball_l",
    }), _unreal_style, "", "Unreal Engine mannequin (pelvis, thigh_l, calf_l, ...)"),
    "metahuman": NamingPreset("metahuman", _sided({
        "pelvis": "pelvis", "spine1": "spine_01", "spine2": "spine_03", "spine3": "spine_05", "neck": "neck_01",
        "upper_neck": "head", "head": "head", "left_collar": "clavicle_l", "left_shoulder": "upperarm_l",
        "left_elbow": "lowerarm_l", "left_wrist": "hand_l", "left_hand": "middle_metacarpal_l", "left_hip": "thigh_l",
        "left_knee": "calf_l", "left_ankle": "foot_l", "left_foot": "ball_l", "left_big_toe": "ball_l",
    }), _unreal_style, "", "Unreal Engine 5 Manny/Quinn and MetaHuman (pelvis, spine_01..05, thigh_l, ...)"),
    "blender": NamingPreset("blender", _sided({
        "pelvis": "spine", "spine1": "spine.001", "spine2": "spine.002", "spine3": "spine.003",
        "neck": "spine.004", "upper_neck": "spine.006", "head": "spine.006", "left_collar": "shoulder.L",
        "left_shoulder": "upper_arm.L", "left_elbow": "forearm.L", "left_wrist": "hand.L",
        "left_hand": "f_middle.01.L", "left_hip": "thigh.L", "left_knee": "shin.L", "left_ankle": "foot.L",
        "left_foot": "toe.L", "left_big_toe": "toe.L", "left_heel": "heel.02.L",
    }), _blender_style, "", "Blender Rigify human meta-rig (spine, thigh.L, shin.L, ...)"),
    "smpl": NamingPreset("smpl", _sided({
        "pelvis": "Pelvis", "spine1": "Spine1", "spine2": "Spine2", "spine3": "Spine3", "neck": "Neck",
        "head": "Head", "left_hip": "L_Hip", "left_knee": "L_Knee", "left_ankle": "L_Ankle", "left_foot": "L_Foot",
        "left_collar": "L_Collar", "left_shoulder": "L_Shoulder", "left_elbow": "L_Elbow", "left_wrist": "L_Wrist",
        "left_hand": "L_Hand",
    }), _smpl_style, "", "SMPL add-ons (Pelvis, L_Hip, L_Knee, Spine1, ...)"),
}
"""Every naming preset, by name."""


def preset_names() -> tuple[str, ...]:
    """The preset names, ``canonical`` first."""
    return tuple(PRESETS)


def _preset(preset: str | NamingPreset) -> NamingPreset:
    if isinstance(preset, NamingPreset):
        return preset
    try:
        return PRESETS[preset]
    except KeyError:
        raise SkeletonError(f"naming preset: expected one of {list(PRESETS)}, found {preset!r}") from None


def bone_name(canonical: str, preset: str | NamingPreset) -> str:
    """The bone name of the joint ``canonical`` in ``preset`` (prefix included)."""
    rig = _preset(preset)
    return rig.prefix + rig.table.get(canonical, rig.style(canonical))


def root_bone_name(preset: str | NamingPreset) -> str:
    """The name ``preset`` gives a root bone at the floor (``NamingPreset.root``)."""
    return _preset(preset).root


def rename_skeleton(skeleton: Skeleton, preset: str | NamingPreset) -> Skeleton:
    """The same skeleton with its joints named as ``preset`` names them.

    Raises:
        SkeletonError: an unknown preset, or two joints that would get the same name (naming both).
    """
    rig = _preset(preset)
    names = tuple(bone_name(name, rig) for name in skeleton.joint_names)
    seen: dict[str, int] = {}
    for j, name in enumerate(names):
        if name in seen:
            first = seen[name]
            raise SkeletonError(
                f"naming preset {rig.name!r}: joints {skeleton.joint_names[first]!r} and {skeleton.joint_names[j]!r} "
                f"would both be called {name!r}; expected distinct bone names"
            )
        seen[name] = j
    return Skeleton(names, skeleton.parents, skeleton.offsets)
