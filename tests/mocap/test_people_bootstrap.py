"""The person-specific parts of the calibration from people (:mod:`mocap.people_bootstrap`):
the body's vertical chain against the studio's body, one person per view, the first camera's
view along X."""

from __future__ import annotations

import numpy as np
import pytest

from calibration import Camera, Rig
from mocap.people_bootstrap import (SEGMENT_SHARES, STATURE_CHAIN_OF_HEIGHT, one_person_per_view,
                                    stature, x_along_first_camera)
from mocap.simulate.body import JOINT_NAMES, LANDMARK_NAMES, Body
from mocap.types import Detections2D, Points3D

NAMES = ("left_ankle", "right_ankle", "left_knee", "right_knee", "left_hip", "right_hip",
         "left_shoulder", "right_shoulder", "left_eye", "right_eye")


def rest_landmarks(body: Body) -> np.ndarray:
    """(10, 3) the studio body's :data:`NAMES` landmarks standing at rest, metres."""
    J = len(JOINT_NAMES)
    _, marks = body.pose(np.tile(np.eye(3), (1, J, 1, 1)), np.eye(3)[None], np.zeros((1, 3)))
    return marks[0, [LANDMARK_NAMES.index(n) for n in NAMES]]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_stature_of_studio_bodies(seed):
    """The shares are the textbook body's; bodies with 3 % segment jitter measure within 0.5 %."""
    body = Body(1.81, seed=seed)
    X = np.repeat(rest_landmarks(body)[None, None], 20, axis=0)          # (F, P, J, 3)
    X = X + np.random.default_rng(seed).normal(0, 0.002, X.shape)
    st = stature(Points3D(X, np.ones(X.shape[:3], np.float32), NAMES, 30.0, "test"))
    assert st.height == pytest.approx(1.81, rel=5e-3)
    canon = stature(Points3D(rest_landmarks(Body(1.0, proportion_jitter=0.0))[None, None].repeat(12, 0),
                             np.ones((12, 1, 10), np.float32), NAMES, 30.0, "test"))
    for k, share in SEGMENT_SHARES.items():
        assert canon.segments[k] == pytest.approx(share, abs=1e-4)
    assert canon.height == pytest.approx(1.0, abs=1e-4) and STATURE_CHAIN_OF_HEIGHT > 0.9


def test_one_person_per_view_drops_views_with_several():
    xy = np.random.default_rng(0).uniform(0, 100, (2, 3, 2, 17, 2))
    conf = np.zeros((2, 3, 2, 17), np.float32)
    conf[0, :, 1] = 0.9                      # cam a: person in slot 1, every frame
    conf[1, 0, 0] = 0.9                      # cam b: frame 0 one person, frame 1 two, frame 2 none
    conf[1, 1] = 0.9
    det = Detections2D(np.where(conf[..., None] > 0, xy, np.nan), conf, "coco17", ("a", "b"), 30.0)
    out, c, dropped = one_person_per_view(det, 0.5)
    assert dropped == 1 and out.shape == (2, 3, 17, 2)
    assert np.array_equal(out[0], xy[0, :, 1]) and np.array_equal(out[1, 0], xy[1, 0, 0])
    assert np.isnan(out[1, 1:]).all() and not c[1, 1:].any()


def test_x_along_first_camera():
    K = np.array([[500.0, 0, 320], [0, 500, 240], [0, 0, 1]])
    cam = Camera.look_at("c", (640, 480), K, np.zeros(5), (2.0, 3.0, 2.0), (0.0, 1.0, 1.0))
    rig = Rig((cam, cam.replace(name="d")))
    T = x_along_first_camera(rig)
    view = T[:3, :3] @ cam.R_cam_from_world.T @ [0, 0, 1.0]
    assert view[0] > 0 and abs(view[1]) < 1e-12 and T[2, 2] == 1.0


def test_a_second_person_is_associated_and_used():
    """A crowd take (:mod:`mocap.simulate.crowd`: people shuffled per view, hiding each
    other): the walker alone for the first half, a second person walking with them in the
    second. The views of one person give the first rig; with it the two people are told
    apart across the views and everyone's keypoints refine it."""
    from calibration.world import camera_centers, similarity_from_points
    from mocap.simulate import Actor, load_rig_template
    from mocap.simulate.crowd import simulate_crowd
    from mocap.people_bootstrap import calibrate_from_people

    truth, F = load_rig_template("studio4"), 150
    second = Actor("walk", 1.62, seed=11, speed_m_per_s=1.2, active_frames=((F // 2, F),),
                   waypoints_m=((-2.2, 0.35), (2.2, 0.35), (2.2, -0.45), (-2.2, -0.45)))
    crowd = simulate_crowd(truth, [Actor("walk", 1.75, seed=1), second], F, seed=1)
    cal = calibrate_from_people(truth.cameras, crowd.detections, 1.75)
    assert cal.dropped_views > 150 and cal.people_associated == 2
    c, t = camera_centers(cal.rig.cameras), camera_centers(truth.cameras)
    T, s = similarity_from_points(c, t)
    moved = (s * (T[:3, :3] @ c.T)).T + T[:3, 3]
    assert np.max(np.linalg.norm(moved - t, axis=1)) < 0.02      # measured 0.2 cm
    assert abs(s - 1) < 0.01                                      # the walker's height: measured 0.07 %
