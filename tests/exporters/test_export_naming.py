"""Naming presets: rig bone names for our canonical joints, symmetric, unique, structure kept."""

from __future__ import annotations

import numpy as np
import pytest

from exporters import Skeleton
from exporters.errors import SkeletonError
from exporters.naming import PRESETS, bone_name, preset_names, rename_skeleton

# Every canonical name the keypoint formats and the SMPL skeleton use (see mocap.keypoints).
CANONICAL = (
    "pelvis", "spine1", "spine2", "spine3", "neck", "upper_neck", "head_top", "nose", "left_eye",
    "right_eye", "left_ear", "right_ear", "left_collar", "right_collar", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hand", "right_hand", "left_hip",
    "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel", "right_heel",
    "left_big_toe", "right_big_toe", "left_small_toe", "right_small_toe", "left_pinky", "right_pinky",
    "left_index", "right_index", "left_thumb", "right_thumb", "left_eye_inner", "right_eye_inner",
)
SMPL24 = ("pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2", "left_ankle",
          "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar", "right_collar", "head",
          "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
          "left_hand", "right_hand")
SMPL_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)


@pytest.mark.parametrize(
    ("preset", "expected"),
    [
        ("mixamo", {"pelvis": "mixamorig:Hips", "left_hip": "mixamorig:LeftUpLeg", "right_knee": "mixamorig:RightLeg",
                    "left_shoulder": "mixamorig:LeftArm", "spine1": "mixamorig:Spine",
                    "left_heel": "mixamorig:LeftHeel"}),
        ("unreal", {"pelvis": "pelvis", "left_hip": "thigh_l", "right_knee": "calf_r", "left_shoulder": "upperarm_l",
                    "left_heel": "heel_l"}),
        ("blender", {"pelvis": "spine", "left_hip": "thigh.L", "right_knee": "shin.R", "left_elbow": "forearm.L",
                     "nose": "nose"}),
        ("smpl", {"pelvis": "Pelvis", "left_hip": "L_Hip", "right_collar": "R_Collar", "spine3": "Spine3",
                  "left_big_toe": "L_BigToe"}),
        ("canonical", {"pelvis": "pelvis", "left_hip": "left_hip"}),
    ],
)
def test_known_bone_names(preset: str, expected: dict) -> None:
    for canonical, name in expected.items():
        assert bone_name(canonical, preset) == name


@pytest.mark.parametrize("preset", preset_names())
def test_left_and_right_mirror_each_other(preset: str) -> None:
    for name in CANONICAL + SMPL24:
        if not name.startswith("left_"):
            continue
        left, right = bone_name(name, preset), bone_name("right_" + name[5:], preset)
        assert left != right
        swapped = (left.replace("Left", "Right").replace("_l", "_r").replace(".L", ".R").replace("L_", "R_")
                   .replace("left_", "right_"))
        assert swapped == right, (preset, name)


@pytest.mark.parametrize("preset", preset_names())
def test_renamed_smpl_skeleton_keeps_its_structure(preset: str) -> None:
    skeleton = Skeleton(SMPL24, np.array(SMPL_PARENTS), np.arange(72.0).reshape(24, 3) / 100)
    renamed = rename_skeleton(skeleton, preset)
    assert len(set(renamed.joint_names)) == 24
    np.testing.assert_array_equal(renamed.parents, skeleton.parents)
    np.testing.assert_array_equal(renamed.offsets, skeleton.offsets)
    assert renamed.joint_names[0] == bone_name("pelvis", preset)


def test_collisions_and_unknown_presets_are_errors() -> None:
    skeleton = Skeleton(("pelvis", "left_foot", "left_big_toe"), np.array([-1, 0, 1]), np.eye(3))
    with pytest.raises(SkeletonError, match=r"joints 'left_foot' and 'left_big_toe' would both be called "
                                            r"'mixamorig:LeftToeBase'"):
        rename_skeleton(skeleton, "mixamo")
    with pytest.raises(SkeletonError, match=r"naming preset: expected one of \['canonical', .*found 'maya'"):
        rename_skeleton(skeleton, "maya")
    assert set(PRESETS) == {"canonical", "mixamo", "unreal", "metahuman", "blender", "smpl"}
