"""World alignment (rigid and similarity changes of frame, the floor board, levelling from a
standing person) and refinement of a rig from people's 2D keypoints."""

from __future__ import annotations

import numpy as np
import pytest

from calibration import InsufficientDataError, Rig, ShapeError
from calibration.bundle import vec_to_pose
from calibration.extrinsics import rotation_angle_deg
from calibration.people import KeypointRefineOptions, refine_from_keypoints
from calibration.world import (
    align_to_floor_board,
    floor_frame_from_board,
    level_from_standing_person,
    similarity_from_points,
    transform_points,
    transform_rig,
)


def test_transform_rig_keeps_every_projection(rig, scene_points):
    T = vec_to_pose(np.array([0.3, -0.2, 0.5, 1.0, -2.0, 0.5]))
    for s in (1.0, 2.5):
        moved = transform_rig(rig, T, s)
        np.testing.assert_allclose(moved.project(transform_points(scene_points, T, s)),
                                   rig.project(scene_points), atol=1e-8)
    with pytest.raises(ShapeError, match=r"T_new_from_old: expected shape \(4, 4\), found \(3, 4\)"):
        transform_rig(rig, T[:3])


def test_similarity_is_recovered(scene_points):
    T = vec_to_pose(np.array([0.1, 0.7, -0.3, 0.2, 0.1, -1.0]))
    got, s = similarity_from_points(scene_points, transform_points(scene_points, T, 1.7))
    np.testing.assert_allclose(got, T, atol=1e-10)
    assert s == pytest.approx(1.7)


def test_floor_board_frame(rig):
    board = np.diag([1.0, -1.0, -1.0, 1.0])  # face up, x along X
    board[:3, 3] = (0.5, -0.2, 0.0)
    T = floor_frame_from_board(board)
    np.testing.assert_allclose(transform_points(np.array([0.5, -0.2, 0.0]), T), 0, atol=1e-12)
    aligned, _ = align_to_floor_board(rig, board)
    for a, b in zip(aligned, rig):
        np.testing.assert_allclose(a.center, b.center - [0.5, -0.2, 0.0], atol=1e-9)
    upside_down = np.eye(4)
    with pytest.raises(Exception, match=r"floor board: expected the cameras above the floor"):
        align_to_floor_board(rig, upside_down)


def test_level_from_a_standing_person():
    rng = np.random.default_rng(0)
    F = 60
    base = np.concatenate([rng.uniform(-0.5, 0.5, (F, 2)), np.zeros((F, 1))], axis=1)
    feet = base[:, None, :] + np.array([[0.1, 0.0, 0.08], [-0.1, 0.0, 0.08]])  # ankles
    head = feet.mean(axis=1) + [0.0, 0.0, 1.6] + rng.normal(0, 0.01, (F, 3))
    head[5] = np.nan
    tilt = vec_to_pose(np.array([0.05, -0.08, 0.3, 0.2, 0.1, 1.0]))  # a world that is not level
    T = level_from_standing_person(transform_points(head, tilt), transform_points(feet, tilt))
    back = transform_points(transform_points(feet, tilt), T)
    assert abs(np.median(back[..., 2].min(axis=1))) < 2e-3  # floor through the lowest foot point
    up = transform_points(np.array([[0, 0, 0], [0, 0, 1.0]]), T @ tilt)
    d = up[1] - up[0]
    assert np.degrees(np.arccos(d[2] / np.linalg.norm(d))) < 1.0
    with pytest.raises(ShapeError, match=r"feet_xyz: expected shape \(60, K, 3\), found \(60, 3\)"):
        level_from_standing_person(head, feet[:, 0])


def moving_points(F: int = 60, J: int = 17, seed: int = 0) -> np.ndarray:
    """(F, J, 3) points of a person-sized cloud walking around the middle of the room."""
    rng = np.random.default_rng(seed)
    offsets = rng.uniform([-0.25, -0.15, 0.0], [0.25, 0.15, 1.8], (J, 3))
    path = np.stack([np.cos(np.linspace(0, 2 * np.pi, F)), np.sin(np.linspace(0, 2 * np.pi, F)), np.zeros(F)], axis=1)
    return path[:, None, :] * 0.8 + offsets[None]


def poor_rig(rig: Rig, seed: int = 1) -> Rig:
    """The rig as a poor board calibration would give it: extrinsics off by ~0.5 deg, ~2 cm."""
    rng = np.random.default_rng(seed)
    cams = [rig[0]]
    for c in rig.cameras[1:]:
        R = vec_to_pose(np.r_[rng.normal(0, 0.006, 3), 0, 0, 0])[:3, :3]
        cams.append(c.replace(R_cam_from_world=R @ c.R_cam_from_world,
                              t_cam_from_world=c.t_cam_from_world + rng.normal(0, 0.02, 3)))
    return Rig(tuple(cams))


def test_keypoints_refine_a_poor_rig_and_keep_its_scale(rig):
    X = moving_points()
    rng = np.random.default_rng(2)
    xy = rig.project(X) + rng.normal(0, 0.8, (len(rig),) + X.shape[:2] + (2,))
    conf = rng.uniform(0.5, 1.0, xy.shape[:-1])
    xy[0, 10:20, 3] = np.nan  # unseen
    conf[0, 10:20, 3] = 0.0
    xy[1, 5, 2] += 60.0  # an outlier (a swapped joint)
    poor = poor_rig(rig)
    res = refine_from_keypoints(poor, xy, conf)
    assert np.all(res.error_after_px < res.error_before_px)
    assert np.all(res.error_after_px < 1.5)  # noise: 0.8 px per axis, 1.13 px RMS distance
    base = lambda r: np.mean([np.linalg.norm(a.center - b.center) for a in r for b in r])  # noqa: E731
    assert base(res.rig) == pytest.approx(base(poor), rel=2e-3)  # the board's scale is kept
    # The cameras' relative orientations move towards the truth (the world frame stays the
    # input's: keypoints cannot tell where the floor is).
    def relative_error(r):
        return max(rotation_angle_deg(r[i].R_cam_from_world @ r[j].R_cam_from_world.T,
                                      rig[i].R_cam_from_world @ rig[j].R_cam_from_world.T)
                   for i in range(len(rig)) for j in range(i))

    assert relative_error(res.rig) < 0.3 * relative_error(poor)
    assert res.rig.metadata.adjusted and res.points_used > 500


def test_keypoint_refinement_two_cameras_and_bad_input(rig):
    two = rig.subset(["cam0", "cam1"])
    X = moving_points(40)
    xy = two.project(X) + np.random.default_rng(3).normal(0, 0.5, (2, 40, 17, 2))
    poor = poor_rig(two)
    res = refine_from_keypoints(poor, xy)
    assert np.all(res.error_after_px < res.error_before_px)
    d = lambda r: np.linalg.norm(r[0].center - r[1].center)  # noqa: E731
    assert d(res.rig) == pytest.approx(d(poor), rel=1e-9)
    with pytest.raises(ShapeError, match=r"xy: expected shape \(2, F, J, 2\) for 2 cameras, found \(3, 40, 17, 2\)"):
        refine_from_keypoints(poor, np.zeros((3, 40, 17, 2)))
    with pytest.raises(ShapeError, match=r"conf: expected shape \(2, 40, 17\), found \(2, 40\)"):
        refine_from_keypoints(poor, xy, np.ones((2, 40)))
    few = np.full_like(xy, np.nan)
    few[:, :1, :5] = xy[:, :1, :5]
    with pytest.raises(InsufficientDataError, match=r"expected at least 20 keypoints seen by >= 2 cameras"):
        refine_from_keypoints(poor, few, options=KeypointRefineOptions())


def test_keypoint_refinement_of_intrinsics_is_bounded(rig, caplog):
    """Free intrinsics are accepted where the keypoints pin them and rejected (poses refined
    alone, with a warning) where they drift: a tight limit stands in for a weak capture."""
    X = moving_points()
    xy = rig.project(X) + np.random.default_rng(4).normal(0, 0.5, (len(rig),) + X.shape[:2] + (2,))
    poor = poor_rig(rig)
    free = refine_from_keypoints(poor, xy, options=KeypointRefineOptions(refine_intrinsics=True))
    assert free.intrinsics_refined
    assert np.all(free.error_after_px < free.error_before_px)
    tight = KeypointRefineOptions(refine_intrinsics=True, max_intrinsic_change=1e-9)
    with caplog.at_level("WARNING", logger="calibration.people"):
        held = refine_from_keypoints(poor, xy, options=tight)
    assert not held.intrinsics_refined and "refining the poses only" in caplog.text
    for a, b in zip(poor, held.rig):
        np.testing.assert_array_equal(a.K, b.K)
    assert np.all(held.error_after_px < held.error_before_px)


def test_level_from_standing_person_drops_frames_that_lean():
    """Library: frames of a person bending over are left out; the ankles' height is removed;
    the axis base may differ from the mean of the feet points (toes are in front)."""
    rng = np.random.default_rng(0)
    F = 80
    ankles = np.stack([rng.uniform(-0.3, 0.3, (F, 3)) * [1, 1, 0] + [0, 0.1, 0.07],
                       rng.uniform(-0.3, 0.3, (F, 3)) * [1, 1, 0] + [0, -0.1, 0.07]], axis=1)
    ankles[:, 1, :2] = ankles[:, 0, :2] - [0.0, 0.2]
    toes = ankles + [0.18, 0.0, -0.07]
    base = ankles.mean(axis=1)
    head = base + [0.0, 0.0, 1.35] + rng.normal(0, 0.005, (F, 3))
    head[:20] = base[:20] + [0.9, 0.0, 0.8]          # bending over: 48 deg from upright
    feet = np.concatenate([ankles, toes], axis=1)
    T = level_from_standing_person(head, feet, [0.07, 0.07, 0.0, 0.0], base_xyz=base)
    assert np.degrees(np.arccos(T[2, 2])) < 0.1
    assert abs(T[2, 3]) < 2e-3
    under = np.median(feet[20:, :, :2].mean(axis=1), axis=0)
    np.testing.assert_allclose(T[:2, 3], -under, atol=1e-3)
    naive = level_from_standing_person(head, feet)     # axis from the mean of ankles and toes
    assert np.degrees(np.arccos(naive[2, 2])) > 3.0
