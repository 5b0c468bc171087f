"""Joint angles from 3D keypoints (mocap.angles), against the virtual studio's ground truth
and hand-built poses."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from mocap.angles import ANGLE_NAMES, joint_angles, segment_angle_deg
from mocap.errors import MocapError
from mocap.keypoints import get_format
from mocap.simulate import Actor, ErrorModel, simulate_take
from mocap.simulate.body import JOINT_NAMES


def _ry_deg(R: np.ndarray) -> np.ndarray:
    """Angle of rotations about the local y axis (F, 3, 3) -> (F,) degrees."""
    return np.degrees(np.arctan2(R[..., 0, 2], R[..., 0, 0]))


@pytest.fixture(scope="module")
def walk(studio4):
    return simulate_take(studio4, [Actor("walk", seed=2)], 60, 30.0, "body25",
                         ErrorModel.perfect(), seed=0)


def test_angles_match_the_simulated_joint_rotations(walk):
    """Knee and elbow flexion are exact (hinges between collinear segments); hip and shoulder
    flexion are measured against the trunk line, which the walk keeps upright (within 1 deg)."""
    a = joint_angles(walk.gt_xyz[:, 0], get_format("body25").joint_names)
    R = walk.gt_local_R[:, 0]
    J = {n: i for i, n in enumerate(JOINT_NAMES)}
    for side in ("left", "right"):
        np.testing.assert_allclose(a[f"{side}_knee_flexion"], _ry_deg(R[:, J[f"{side}_knee"]]),
                                   atol=1e-6)
        np.testing.assert_allclose(a[f"{side}_elbow_flexion"],
                                   -_ry_deg(R[:, J[f"{side}_elbow"]]), atol=1e-6)
        np.testing.assert_allclose(a[f"{side}_hip_flexion"], -_ry_deg(R[:, J[f"{side}_hip"]]),
                                   atol=1.0)
        np.testing.assert_allclose(a[f"{side}_shoulder_flexion"],
                                   -_ry_deg(R[:, J[f"{side}_shoulder"]]), atol=1.0)
    # the walk really flexes: the comparison is not of two constants
    assert np.ptp(a["left_knee_flexion"]) > 30 and np.ptp(a["right_hip_flexion"]) > 30


def _standing(names) -> np.ndarray:
    """A standing pose facing -Y (left = +X), arms down, metres."""
    pos = {"pelvis": (0, 0, 1.0), "neck": (0, 0, 1.5), "left_hip": (0.1, 0, 1.0),
           "right_hip": (-0.1, 0, 1.0), "left_knee": (0.1, 0, 0.55), "right_knee": (-0.1, 0, 0.55),
           "left_ankle": (0.1, 0, 0.1), "right_ankle": (-0.1, 0, 0.1),
           "left_shoulder": (0.2, 0, 1.5), "right_shoulder": (-0.2, 0, 1.5),
           "left_elbow": (0.2, 0, 1.2), "right_elbow": (-0.2, 0, 1.2),
           "left_wrist": (0.2, 0, 0.95), "right_wrist": (-0.2, 0, 0.95)}
    return np.array([pos.get(n, (np.nan,) * 3) for n in names], float)


def test_hand_built_poses_give_the_angles_they_were_built_with():
    names = get_format("body25").joint_names
    idx = {n: i for i, n in enumerate(names)}
    xyz = _standing(names)
    a = joint_angles(xyz, names)
    for name in ANGLE_NAMES:
        assert abs(a[f"left_{name}"]) < 1e-9 and abs(a[f"right_{name}"]) < 1e-9
    # left thigh 30 deg forward (forward = -Y), shank straight down again: knee 30 deg
    knee = xyz[idx["left_hip"]] + 0.45 * np.array([0, -np.sin(np.radians(30)),
                                                   -np.cos(np.radians(30))])
    xyz[idx["left_knee"]] = knee
    xyz[idx["left_ankle"]] = knee + np.array([0, 0, -0.45])
    # right arm forward, horizontal, forearm bent 90 deg upwards; left arm 20 deg backwards
    xyz[idx["right_elbow"]] = xyz[idx["right_shoulder"]] + [0, -0.3, 0]
    xyz[idx["right_wrist"]] = xyz[idx["right_elbow"]] + [0, 0, 0.25]
    xyz[idx["left_elbow"]] = xyz[idx["left_shoulder"]] + 0.3 * np.array(
        [0, np.sin(np.radians(20)), -np.cos(np.radians(20))])
    a = joint_angles(xyz, names)
    assert a["left_hip_flexion"] == pytest.approx(30)
    assert a["left_knee_flexion"] == pytest.approx(30)
    assert a["right_shoulder_flexion"] == pytest.approx(90)
    assert a["right_elbow_flexion"] == pytest.approx(90)
    assert a["left_shoulder_flexion"] == pytest.approx(-20)     # extension is negative
    assert a["right_hip_flexion"] == pytest.approx(0, abs=1e-9)


def test_angles_do_not_depend_on_where_the_body_stands_or_faces(walk, rng):
    names = get_format("body25").joint_names
    xyz = walk.gt_xyz[:, 0]
    R = Rotation.from_euler("z", rng.uniform(0, 360), degrees=True).as_matrix()
    moved = xyz @ R.T + np.array([3.0, -2.0, 0.1])
    a, b = joint_angles(xyz, names), joint_angles(moved, names)
    for k in a:
        np.testing.assert_allclose(a[k], b[k], atol=1e-9)


def test_missing_keypoints_give_nan_only_where_needed():
    names = get_format("body25").joint_names
    xyz = np.stack([_standing(names)] * 3)
    xyz[1, names.index("left_knee")] = np.nan
    a = joint_angles(xyz, names)
    assert np.isnan(a["left_knee_flexion"][1]) and np.isnan(a["left_hip_flexion"][1])
    assert np.isfinite(a["right_knee_flexion"]).all() and np.isfinite(a["left_elbow_flexion"]).all()
    assert np.isfinite(a["left_knee_flexion"][[0, 2]]).all()


def test_formats_without_pelvis_or_neck_use_midpoints(walk):
    coco = get_format("coco17")
    body25 = get_format("body25")
    take25 = walk.gt_xyz[:, 0]
    coco_xyz = take25[:, [body25.joint_names.index(n) for n in coco.joint_names]]
    a, b = joint_angles(take25, body25.joint_names), joint_angles(coco_xyz, coco.joint_names)
    for name in ("left_knee_flexion", "right_elbow_flexion"):
        np.testing.assert_allclose(a[name], b[name], atol=1e-9)
    # the trunk differs (shoulder midpoint vs neck keypoint) by less than a few degrees
    np.testing.assert_allclose(a["left_hip_flexion"], b["left_hip_flexion"], atol=5)


def test_bad_input_raises_naming_the_problem():
    names = get_format("body25").joint_names
    with pytest.raises(MocapError, match=r"\(\.\.\., 25, 3\)"):
        joint_angles(np.zeros((10, 24, 3)), names)
    short = tuple(n for n in names if n != "left_wrist")
    with pytest.raises(MocapError, match="left_wrist"):
        joint_angles(np.zeros((2, len(short), 3)), short)


def test_segment_angle_is_accurate_near_0_and_180_degrees():
    a = np.array([1.0, 0, 0])
    tiny = np.array([1.0, 1e-9, 0])
    assert segment_angle_deg(a, tiny) == pytest.approx(np.degrees(1e-9), rel=1e-6)
    assert segment_angle_deg(a, -tiny) == pytest.approx(180 - np.degrees(1e-9), rel=1e-12)
    assert np.isnan(segment_angle_deg(a, np.zeros(3)))
