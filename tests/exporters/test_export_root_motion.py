"""Root motion on a root bone at the floor (exporters.root_motion): same joints in the world,
the root on the floor turning with the pelvis, and BVH/FBX round trips of a translating hips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from exporters import Motion, Skeleton, read_bvh, write_bvh
from exporters.errors import MotionError, SkeletonError
from exporters.fbx import read_fbx, write_fbx
from exporters.root_motion import add_root_bone, pelvis_yaw


def _turning_walk(skeleton: Skeleton, random_rotations, frames: int = 40) -> tuple[Motion, np.ndarray]:
    """A motion whose pelvis turns 1.5 times round (yaw 0 -> 3 pi) with a forward tilt and
    random limbs, walking a circle; returns it and the pelvis yaw (F,) radians."""
    yaw = np.linspace(0.0, 3 * np.pi, frames)
    tilt = Rotation.from_euler("x", 0.3 * np.sin(np.linspace(0, 6, frames))[:, None]).as_matrix()
    rotations = random_rotations(frames, skeleton.num_joints, max_deg=60)
    rotations[:, 0] = Rotation.from_euler("z", yaw[:, None]).as_matrix() @ tilt
    hips = np.stack([2 * np.cos(yaw / 3), 2 * np.sin(yaw / 3), 0.95 + 0.03 * np.sin(4 * yaw)], axis=1)
    return Motion(rotations, hips, 30.0), yaw


def test_root_bone_keeps_every_joint_and_follows_pelvis_on_the_floor(humanoid, random_rotations) -> None:
    motion, yaw = _turning_walk(humanoid, random_rotations)
    rooted, moved = add_root_bone(humanoid, motion, "root")
    assert rooted.joint_names == ("root", *humanoid.joint_names)
    assert rooted.parents[1] == 0 and rooted.offsets[0][2] == 0.0
    np.testing.assert_allclose(moved.positions(rooted)[:, 1:], motion.positions(humanoid), atol=1e-9)
    np.testing.assert_array_equal(moved.root_translation[:, 2], 0.0)                  # on the floor
    np.testing.assert_allclose(moved.root_translation[:, :2], motion.root_translation[:, :2], atol=1e-12)
    np.testing.assert_allclose(pelvis_yaw(moved.rotations[:, 0]), yaw, atol=1e-9)     # the pelvis's heading
    np.testing.assert_allclose(moved.rotations[:, 0], Rotation.from_euler("z", yaw[:, None]).as_matrix(), atol=1e-9)
    hips_local = moved.translations[1]
    np.testing.assert_allclose(hips_local[:, :2], 0.0, atol=1e-12)                   # straight above the root
    np.testing.assert_allclose(hips_local[:, 2], motion.root_translation[:, 2], atol=1e-12)


def test_in_place_root_stays_at_origin(humanoid, random_rotations) -> None:
    motion, _ = _turning_walk(humanoid, random_rotations)
    rooted, moved = add_root_bone(humanoid, motion, in_place=True)
    np.testing.assert_array_equal(moved.root_translation, 0.0)
    np.testing.assert_allclose(moved.positions(rooted)[:, 1:], motion.positions(humanoid), atol=1e-9)


def test_root_name_taken_and_bad_translations_raise(humanoid, random_motion) -> None:
    motion = random_motion(humanoid, 3)
    with pytest.raises(SkeletonError, match="root bone 'pelvis'"):
        add_root_bone(humanoid, motion, "pelvis")
    with pytest.raises(MotionError, match=r"translations\[2\]"):
        Motion(motion.rotations, motion.root_translation, 30.0, {2: np.zeros((2, 3))})
    with pytest.raises(MotionError, match="joint indices"):
        Motion(motion.rotations, motion.root_translation, 30.0, {0: np.zeros((3, 3))})


@pytest.mark.parametrize("up, units", [("y", "m"), ("z", "cm")])
def test_bvh_round_trip_with_root_bone(tmp_path: Path, humanoid, random_rotations, up, units) -> None:
    rooted, moved = add_root_bone(humanoid, _turning_walk(humanoid, random_rotations)[0])
    write_bvh(tmp_path / "r.bvh", rooted, moved, up=up, units=units)
    text = (tmp_path / "r.bvh").read_text()
    assert text.count("CHANNELS 6") == 2                      # root and hips
    skeleton, motion = read_bvh(tmp_path / "r.bvh", up=up, units=units)
    assert skeleton.joint_names[:2] == ("root", "pelvis") and list(motion.translations) == [1]
    np.testing.assert_allclose(motion.translations[1], moved.translations[1], atol=1e-7)
    np.testing.assert_allclose(motion.positions(skeleton), moved.positions(rooted), atol=1e-6)


@pytest.mark.parametrize("up, units", [("y", "m"), ("z", "cm")])
def test_fbx_round_trip_with_root_bone(tmp_path: Path, humanoid, random_rotations, up, units) -> None:
    rooted, moved = add_root_bone(humanoid, _turning_walk(humanoid, random_rotations)[0])
    write_fbx(tmp_path / "r.fbx", rooted, moved, up=up, units=units)
    scene = read_fbx(tmp_path / "r.fbx")
    assert scene.skeleton.joint_names[:2] == ("root", "pelvis") and list(scene.motion.translations) == [1]
    np.testing.assert_allclose(scene.motion.translations[1], moved.translations[1], atol=2e-6)
    np.testing.assert_allclose(scene.motion.positions(scene.skeleton), moved.positions(rooted), atol=1e-5)
    np.testing.assert_allclose(scene.motion.root_translation[:, 2], 0.0, atol=1e-6)
