"""Skeletons and rotations solved from 3D keypoints: exact recovery, least-squares bounds, errors."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from exporters import (
    Motion,
    MotionError,
    Skeleton,
    SkeletonError,
    estimate_bone_lengths,
    forward_kinematics,
    motion_from_positions,
    skeleton_from_positions,
)
from exporters.from_positions import kabsch_rotation, swing_rotation

EXACT_M = 1e-9


# ----------------------------------------------------------------------------- bone lengths


def test_bone_lengths_are_robust_medians_with_gaps() -> None:
    parents = np.array([-1, 0, 1])
    positions = np.zeros((5, 3, 3))
    positions[:, 1] = [[0.5, 0, 0]] * 5
    positions[:, 2] = [[0.5, 0.3, 0]] * 5
    positions[0, 1] = [9.0, 0, 0]  # one outlier frame
    positions[1, 2] = np.nan  # a gap
    lengths = estimate_bone_lengths(parents, positions)
    np.testing.assert_allclose(lengths, [0.0, 0.5, 0.3])


def test_bone_length_is_nan_when_never_seen() -> None:
    positions = np.zeros((4, 3, 3))
    positions[:, 1] = (0, 0, 1.0)
    positions[::2, 2] = np.nan
    positions[1::2, 1] = np.nan  # joint 2 and its parent 1 never finite together
    with np.errstate(all="raise"):
        lengths = estimate_bone_lengths([-1, 0, 1], positions)
    assert lengths[0] == 0.0 and lengths[1] == pytest.approx(1.0) and np.isnan(lengths[2])


# ----------------------------------------------------------------------------- skeleton


def test_skeleton_from_fk_positions_recovers_the_skeleton(humanoid: Skeleton, random_rotations, rng) -> None:
    # an actor moving a little about its rest pose, with 20 % of the keypoints missing
    rotations = random_rotations(301, humanoid.num_joints, max_deg=8)
    positions, _ = forward_kinematics(humanoid, rotations, np.tile([0, 0, 0.95], (301, 1)))
    positions[rng.uniform(size=positions.shape[:2]) < 0.2] = np.nan
    skeleton = skeleton_from_positions(humanoid.joint_names, humanoid.parents, positions)
    assert skeleton.joint_names == humanoid.joint_names
    np.testing.assert_allclose(np.linalg.norm(skeleton.offsets[1:], axis=1), np.linalg.norm(humanoid.offsets[1:], axis=1))
    cosines = np.sum(skeleton.offsets[1:] * humanoid.offsets[1:], axis=1) / np.sum(humanoid.offsets[1:] ** 2, axis=1)
    assert np.degrees(np.arccos(np.clip(cosines, -1, 1))).max() < 8.0  # rest direction within the motion's spread


def test_skeleton_root_offset_is_median_root_height(humanoid: Skeleton, random_motion, fk_positions) -> None:
    positions = fk_positions(humanoid, random_motion(humanoid, 9))
    skeleton = skeleton_from_positions(humanoid.joint_names, humanoid.parents, positions)
    np.testing.assert_allclose(skeleton.offsets[0], [0, 0, np.median(positions[:, 0, 2])])


def test_skeleton_from_positions_uses_given_rest_directions(humanoid: Skeleton, random_motion, fk_positions) -> None:
    positions = fk_positions(humanoid, random_motion(humanoid, 9))
    t_pose = np.tile([0.0, 0.0, 2.0], (humanoid.num_joints, 1))  # every bone pointing up, any length
    skeleton = skeleton_from_positions(humanoid.joint_names, humanoid.parents, positions, rest_directions=t_pose)
    lengths = np.linalg.norm(humanoid.offsets[1:], axis=1)
    np.testing.assert_allclose(skeleton.offsets[1:], np.outer(lengths, [0, 0, 1]), atol=1e-12)


def test_skeleton_from_positions_names_a_bone_never_seen() -> None:
    positions = np.zeros((3, 3, 3))
    positions[:, 1] = (0, 0, 1.0)
    positions[:, 2] = np.nan
    with pytest.raises(SkeletonError, match=r"joint 2 \('c'\).*'b'"):
        skeleton_from_positions(("a", "b", "c"), [-1, 0, 1], positions)


def test_skeleton_from_positions_rejects_zero_rest_direction() -> None:
    positions = np.tile([[0, 0, 0.0], [0, 0, 1.0]], (2, 1, 1))
    with pytest.raises(SkeletonError, match=r"rest direction of joint 1 \('b'\)"):
        skeleton_from_positions(("a", "b"), [-1, 0], positions, rest_directions=np.zeros((2, 3)))


# ----------------------------------------------------------------------------- exact recovery


def test_chain_positions_are_reproduced_exactly(chain: Skeleton, random_motion, fk_positions) -> None:
    positions = fk_positions(chain, random_motion(chain, 200))
    motion = motion_from_positions(chain, positions, fps=30.0)
    assert np.abs(fk_positions(chain, motion) - positions).max() < EXACT_M
    assert motion.fps == 30.0 and motion.num_frames == 200


def test_branching_positions_from_a_rigid_skeleton_are_reproduced_exactly(
    humanoid: Skeleton, random_motion, fk_positions
) -> None:
    positions = fk_positions(humanoid, random_motion(humanoid, 200))
    motion = motion_from_positions(humanoid, positions, fps=25.0)
    assert np.abs(fk_positions(humanoid, motion) - positions).max() < EXACT_M


def test_one_child_joints_get_pure_swing_so_twist_is_inherited(chain: Skeleton, random_motion, fk_positions) -> None:
    motion = motion_from_positions(chain, fk_positions(chain, random_motion(chain, 50)), fps=30.0)
    for j in range(1, chain.num_joints - 1):
        # the local rotation of a one-child joint turns about an axis perpendicular to the child's offset
        axes = Rotation.from_matrix(motion.rotations[:, j]).as_rotvec()
        assert np.abs(axes @ chain.offsets[j + 1]).max() < 1e-9
    np.testing.assert_allclose(motion.rotations[:, -1], np.broadcast_to(np.eye(3), (50, 3, 3)), atol=1e-15)


def test_smooth_input_gives_smooth_rotations_without_flips(humanoid: Skeleton, fk_positions) -> None:
    times = np.linspace(0.0, 4.0, 400)
    rotvecs = 1.2 * np.sin(times[:, None, None] * np.linspace(1, 3, humanoid.num_joints)[None, :, None] + np.arange(3))
    rotations = Rotation.from_rotvec(rotvecs.reshape(-1, 3)).as_matrix().reshape(400, -1, 3, 3)
    truth = Motion(rotations, np.zeros((400, 3)), 100.0)
    motion = motion_from_positions(humanoid, fk_positions(humanoid, truth), fps=100.0)
    _, global_rotations = forward_kinematics(humanoid, motion.rotations, motion.root_translation)
    step = Rotation.from_matrix((np.swapaxes(global_rotations[:-1], -1, -2) @ global_rotations[1:]).reshape(-1, 3, 3))
    assert np.degrees(step.magnitude()).max() < 10.0


def test_collinear_children_fall_back_to_swing(random_rotations, fk_positions) -> None:
    skeleton = Skeleton(("pelvis", "l_hip", "r_hip"), [-1, 0, 0], [[0, 0, 1.0], [0.1, 0, 0], [-0.1, 0, 0]])
    truth = Motion(random_rotations(30, 3), np.zeros((30, 3)), 30.0)
    positions = fk_positions(skeleton, truth)
    motion = motion_from_positions(skeleton, positions, fps=30.0)
    assert np.abs(fk_positions(skeleton, motion) - positions).max() < EXACT_M
    axes = Rotation.from_matrix(motion.rotations[:, 0]).as_rotvec()
    assert np.abs(axes[:, 0]).max() < 1e-9  # no twist about the hip line (inherited: none)


def test_bone_length_change_moves_one_joint_along_its_bone_and_does_not_add_up(
    chain: Skeleton, random_motion, fk_positions
) -> None:
    positions = fk_positions(chain, random_motion(chain, 20))
    stretched = positions.copy()
    stretched[:, 3:] += 0.05 * (positions[:, 3] - positions[:, 2])[:, None]  # bone 2-3 is 5 % longer
    motion = motion_from_positions(chain, stretched, fps=30.0)
    fk = fk_positions(chain, motion)
    error = np.linalg.norm(fk - stretched, axis=-1)
    assert error[:, :3].max() < EXACT_M
    np.testing.assert_allclose(error[:, 3], 0.05 * np.linalg.norm(chain.offsets[3]), atol=1e-12)
    direction = np.cross(fk[:, 3] - fk[:, 2], stretched[:, 3] - fk[:, 2])
    assert np.abs(direction).max() < 1e-12  # the joint is on the observed bone line
    assert np.all(error[:, 4:] <= error[:, 3:4] + 1e-12)  # later joints aim from FK: no accumulation


# ----------------------------------------------------------------------------- noisy scene


def test_noisy_branching_joints_are_least_squares_optimal(humanoid: Skeleton, random_motion, fk_positions, rng) -> None:
    sigma = 0.01
    noisy = fk_positions(humanoid, random_motion(humanoid, 300)) + rng.normal(scale=sigma, size=(300, 17, 3))
    motion = motion_from_positions(humanoid, noisy, fps=30.0)
    positions, global_rotations = forward_kinematics(humanoid, motion.rotations, motion.root_translation)
    for joint in (0, 2):  # pelvis and chest, three children each
        kids = list(humanoid.children(joint))
        targets = noisy[:, kids] - positions[:, joint, None]

        def cost(rotations: np.ndarray) -> np.ndarray:
            return np.sum((np.einsum("fij,kj->fki", rotations, humanoid.offsets[kids]) - targets) ** 2, axis=(1, 2))

        best = cost(global_rotations[:, joint])
        for _ in range(20):
            nudge = Rotation.from_rotvec(rng.normal(scale=0.02, size=(300, 3))).as_matrix()
            nudged = global_rotations[:, joint] @ nudge
            assert np.all(cost(nudged) >= best - 1e-12)


def test_noisy_positions_stay_within_the_stated_bound(humanoid: Skeleton, random_motion, fk_positions, rng) -> None:
    """Bound: with Gaussian noise of sigma per coordinate, the per-joint RMS distance between FK of
    the solved motion and the noisy input is below 2.6 sigma (1.5 x the noise's own RMS norm,
    sqrt(3) sigma); the root is reproduced exactly. Measured: 1.3 to 2.3 sigma."""
    sigma = 0.01
    noisy = fk_positions(humanoid, random_motion(humanoid, 500)) + rng.normal(scale=sigma, size=(500, 17, 3))
    motion = motion_from_positions(humanoid, noisy, fps=30.0)
    error = np.linalg.norm(fk_positions(humanoid, motion) - noisy, axis=-1)
    rms = np.sqrt(np.mean(error**2, axis=0))
    assert rms[0] < EXACT_M
    assert rms.max() < 1.5 * np.sqrt(3) * sigma


# ----------------------------------------------------------------------------- building blocks


def test_swing_rotation_is_the_minimal_rotation(rng) -> None:
    a, b = rng.normal(size=(2, 500, 3))
    b[:5] = -a[:5] * 2.0  # exactly opposite
    b[5:10] = -a[5:10] + 1e-9 * rng.normal(size=(5, 3))  # nearly opposite
    b[10:15] = a[10:15] * 3.0  # same direction
    rotations = swing_rotation(a, b)
    unit_a = a / np.linalg.norm(a, axis=1, keepdims=True)
    unit_b = b / np.linalg.norm(b, axis=1, keepdims=True)
    np.testing.assert_allclose(np.einsum("fij,fj->fi", rotations, unit_a), unit_b, atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(rotations), 1.0, atol=1e-12)
    angles = Rotation.from_matrix(rotations).magnitude()
    np.testing.assert_allclose(angles, np.arccos(np.clip(np.sum(unit_a * unit_b, axis=1), -1, 1)), atol=1e-7)


def test_swing_rotation_of_zero_vector_is_identity() -> None:
    np.testing.assert_array_equal(swing_rotation(np.zeros(3), [1.0, 0, 0]), np.eye(3))


def test_kabsch_recovers_rotation_and_never_reflects(random_rotations, rng) -> None:
    truth = random_rotations(50)
    offsets = rng.normal(size=(4, 3))
    estimate, degenerate = kabsch_rotation(offsets, np.einsum("fij,kj->fki", truth, offsets), np.ones(4))
    np.testing.assert_allclose(estimate, truth, atol=1e-12)
    assert not degenerate.any()
    mirrored = np.einsum("fij,kj->fki", truth, offsets * [1, 1, -1])  # best fit would be a reflection
    estimate, _ = kabsch_rotation(offsets, mirrored, np.ones(4))
    np.testing.assert_allclose(np.linalg.det(estimate), 1.0)


# ----------------------------------------------------------------------------- exceptions


def test_nan_position_is_rejected_naming_frame_and_joint(humanoid: Skeleton, random_motion, fk_positions) -> None:
    positions = fk_positions(humanoid, random_motion(humanoid, 10))
    positions[7, 12, 0] = np.nan
    positions[8, 3, 0] = np.nan
    with pytest.raises(MotionError, match=r"positions\[frame 7, joint 12 \('l_knee'\)\]"):
        motion_from_positions(humanoid, positions, fps=30.0)


def test_wrong_shapes_and_weights_are_rejected(humanoid: Skeleton) -> None:
    with pytest.raises(MotionError, match=r"expected shape \(F, 17, 3\)"):
        motion_from_positions(humanoid, np.zeros((4, 16, 3)), fps=30.0)
    with pytest.raises(MotionError, match="joint_weights"):
        motion_from_positions(humanoid, np.zeros((4, 17, 3)), fps=30.0, joint_weights=-np.ones(17))
    with pytest.raises(MotionError, match="fps"):
        motion_from_positions(humanoid, np.zeros((4, 17, 3)), fps=0.0)
