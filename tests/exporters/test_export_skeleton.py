"""Skeleton and Motion validation, and forward kinematics against hand-computed positions."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from exporters import Motion, MotionError, Skeleton, SkeletonError, forward_kinematics


def rot(axis: str, degrees: float) -> np.ndarray:
    return Rotation.from_euler(axis, degrees, degrees=True).as_matrix()


# ----------------------------------------------------------------------------- exact recovery


def test_fk_three_joint_chain_matches_hand_computed_positions() -> None:
    skeleton = Skeleton(("root", "mid", "tip"), np.array([-1, 0, 1]), np.array([[0, 0, 1.0], [0.5, 0, 0], [0.3, 0, 0]]))
    rotations = np.stack(
        [
            np.stack([np.eye(3)] * 3),
            np.stack([rot("z", 90), rot("y", 90), rot("x", 30)]),
        ]
    )
    translation = np.array([[0.0, 0.0, 1.0], [1.0, 2.0, 3.0]])

    positions, global_rotations = forward_kinematics(skeleton, rotations, translation)

    # frame 0: identity rotations give the rest pose
    np.testing.assert_allclose(positions[0], [[0, 0, 1], [0.5, 0, 1], [0.8, 0, 1]], atol=1e-12)
    # frame 1: mid = root + Rz90 (0.5, 0, 0) = (1, 2.5, 3); tip = mid + Rz90 Ry90 (0.3, 0, 0)
    #          Ry90 (0.3, 0, 0) = (0, 0, -0.3), unchanged by Rz90 -> tip = (1, 2.5, 2.7)
    np.testing.assert_allclose(positions[1], [[1, 2, 3], [1, 2.5, 3], [1, 2.5, 2.7]], atol=1e-12)
    np.testing.assert_allclose(global_rotations[1, 2], rot("z", 90) @ rot("y", 90) @ rot("x", 30), atol=1e-12)


def test_fk_identity_rotations_give_rest_pose_at_root_translation(humanoid: Skeleton) -> None:
    rotations = np.broadcast_to(np.eye(3), (2, humanoid.num_joints, 3, 3))
    translation = np.array(humanoid.offsets[0]) + np.array([[0, 0, 0], [1.0, -2.0, 0.0]])
    positions, _ = forward_kinematics(humanoid, rotations, translation)
    np.testing.assert_allclose(positions[0], humanoid.rest_positions(), atol=1e-12)
    np.testing.assert_allclose(positions[1], humanoid.rest_positions() + [1.0, -2.0, 0.0], atol=1e-12)


def test_fk_batched_equals_frame_by_frame(humanoid: Skeleton, random_motion) -> None:
    motion = random_motion(humanoid, 7)
    positions, global_rotations = forward_kinematics(humanoid, motion.rotations, motion.root_translation)
    for f in range(motion.num_frames):
        p, g = forward_kinematics(humanoid, motion.rotations[f], motion.root_translation[f])
        np.testing.assert_allclose(positions[f], p, atol=1e-12)
        np.testing.assert_allclose(global_rotations[f], g, atol=1e-12)


def test_fk_keeps_bone_lengths(humanoid: Skeleton, random_motion, fk_positions) -> None:
    positions = fk_positions(humanoid, random_motion(humanoid, 5))
    parents = humanoid.parents[1:]
    lengths = np.linalg.norm(positions[:, 1:] - positions[:, parents], axis=-1)
    np.testing.assert_allclose(lengths, np.broadcast_to(np.linalg.norm(humanoid.offsets[1:], axis=1), lengths.shape))


# ----------------------------------------------------------------------------- helpers


def test_skeleton_helpers(humanoid: Skeleton) -> None:
    assert humanoid.num_joints == 17
    assert humanoid.index("chest") == 2
    assert humanoid.children(0) == (1, 11, 14)
    assert humanoid.children(2) == (3, 5, 8)
    assert humanoid.children(4) == ()
    rest = humanoid.rest_positions()
    np.testing.assert_allclose(rest[0], [0, 0, 0.95])
    np.testing.assert_allclose(rest[4], humanoid.offsets[:5].sum(axis=0))


def test_skeleton_and_motion_are_immutable(humanoid: Skeleton, random_motion) -> None:
    with pytest.raises(ValueError):
        humanoid.offsets[0, 0] = 1.0
    motion = random_motion(humanoid, 2)
    with pytest.raises(ValueError):
        motion.rotations[0, 0, 0, 0] = 1.0


def test_skeleton_copies_its_inputs() -> None:
    offsets = np.zeros((2, 3))
    skeleton = Skeleton(("a", "b"), [-1, 0], offsets)
    offsets[1] = 5.0
    np.testing.assert_array_equal(skeleton.offsets[1], 0.0)


# ----------------------------------------------------------------------------- exceptions


@pytest.mark.parametrize(
    ("names", "parents", "offsets", "match"),
    [
        (("a", "b"), [0, 0], np.zeros((2, 3)), r"parents\[0\]: expected -1"),
        (("a", "b", "c"), [-1, 2, 0], np.zeros((3, 3)), r"parents\[1\]"),
        (("a", "b", "c"), [-1, -1, 0], np.zeros((3, 3)), r"parents\[1\]"),
        (("a", "b"), [-1, 0, 1], np.zeros((3, 3)), r"expected 2 entries"),
        (("a", "a"), [-1, 0], np.zeros((2, 3)), r"'a' already used by joint 0"),
        (("a", ""), [-1, 0], np.zeros((2, 3)), r"joint_names\[1\]"),
        (("a", "b"), [-1, 0], np.zeros((2, 2)), r"offsets: expected shape \(2, 3\)"),
        (("a", "b"), [-1, 0], [[0, 0, 0], [0, np.nan, 0]], r"offsets\[1\] \(joint 'b'\)"),
        (("a", "b"), [-1, 0.5], np.zeros((2, 3)), r"expected integers"),
    ],
)
def test_skeleton_rejects_malformed_input(names, parents, offsets, match) -> None:
    with pytest.raises(SkeletonError, match=match):
        Skeleton(names, np.asarray(parents), offsets)


def test_skeleton_index_of_unknown_name(humanoid: Skeleton) -> None:
    with pytest.raises(SkeletonError, match="'tail'"):
        humanoid.index("tail")


def test_motion_rejects_nan_rotation_naming_frame_and_joint(humanoid: Skeleton, random_motion) -> None:
    motion = random_motion(humanoid, 6)
    rotations = np.array(motion.rotations)
    rotations[4, 9, 1, 2] = np.nan
    with pytest.raises(MotionError, match=r"rotations\[frame 4, joint 9\]"):
        Motion(rotations, motion.root_translation, 30.0)


@pytest.mark.parametrize("bad", ["scaled", "reflection", "shear"])
def test_motion_rejects_non_rotations(bad: str) -> None:
    rotations = np.broadcast_to(np.eye(3), (3, 2, 3, 3)).copy()
    rotations[2, 1] = {
        "scaled": 1.01 * np.eye(3),
        "reflection": np.diag([1.0, 1.0, -1.0]),
        "shear": np.eye(3) + np.eye(3, k=1) * 0.1,
    }[bad]
    with pytest.raises(MotionError, match=r"rotations\[frame 2, joint 1\]: expected a proper rotation"):
        Motion(rotations, np.zeros((3, 3)), 30.0)


@pytest.mark.parametrize(
    ("rotations", "translation", "fps", "match"),
    [
        (np.zeros((2, 3, 3)), np.zeros((2, 3)), 30, r"rotations: expected shape \(F, J, 3, 3\)"),
        (np.broadcast_to(np.eye(3), (2, 1, 3, 3)), np.zeros((3, 3)), 30, r"root_translation: expected shape \(2, 3\)"),
        (np.broadcast_to(np.eye(3), (2, 1, 3, 3)), [[0, 0, 0], [0, 0, np.inf]], 30, r"root_translation\[frame 1\]"),
        (np.broadcast_to(np.eye(3), (2, 1, 3, 3)), np.zeros((2, 3)), 0.0, r"fps: expected a finite number > 0"),
        (np.broadcast_to(np.eye(3), (2, 1, 3, 3)), np.zeros((2, 3)), np.nan, r"fps"),
    ],
)
def test_motion_rejects_malformed_input(rotations, translation, fps, match) -> None:
    with pytest.raises(MotionError, match=match):
        Motion(rotations, translation, fps)


def test_fk_rejects_wrong_joint_count(humanoid: Skeleton) -> None:
    with pytest.raises(MotionError, match=r"expected shape \(\.\.\., 17, 3, 3\)"):
        forward_kinematics(humanoid, np.broadcast_to(np.eye(3), (2, 16, 3, 3)), np.zeros((2, 3)))
    with pytest.raises(MotionError, match="root_translation"):
        forward_kinematics(humanoid, np.broadcast_to(np.eye(3), (2, 17, 3, 3)), np.zeros((3, 3)))


def test_motion_check_matches(humanoid: Skeleton) -> None:
    motion = Motion(np.broadcast_to(np.eye(3), (1, 3, 3, 3)), np.zeros((1, 3)), 24.0)
    with pytest.raises(MotionError, match="expected 17 joints"):
        motion.check_matches(humanoid)


def test_motion_with_zero_frames_is_valid() -> None:
    motion = Motion(np.zeros((0, 2, 3, 3)), np.zeros((0, 3)), 60.0)
    assert motion.num_frames == 0 and motion.num_joints == 2
