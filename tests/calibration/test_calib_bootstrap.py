"""Cameras found from points seen by several of them, with no prior poses
(:mod:`calibration.bootstrap`): the arc rig of the board tests, points drifting through the
volume as a person's joints do, detector-like noise and outliers."""

from __future__ import annotations

import numpy as np
import pytest

from calibration import InsufficientDataError, Rig
from calibration.bootstrap import bootstrap_rig, relative_pose
from calibration.extrinsics import rotation_angle_deg
from calibration.people import KeypointRefineOptions, refine_from_keypoints
from calibration.world import camera_centers, similarity_from_points, transform_rig

from calib_scenes import arc_rig


def walking_points(F: int = 200, J: int = 15, seed: int = 0) -> np.ndarray:
    """(F, J, 3) points of a 'person' (a 1.7 m column of joints, 0.4 m wide) walking a 1.2 m
    circle around (0, 0), world metres."""
    rng = np.random.default_rng(seed)
    body = np.c_[rng.uniform(-0.2, 0.2, (J, 2)), rng.uniform(0.05, 1.7, J)]
    theta = np.linspace(0, 2 * np.pi, F)
    centre = 1.2 * np.c_[np.cos(theta), np.sin(theta), np.zeros(F)]
    wobble = 0.05 * rng.standard_normal((F, J, 3))
    return centre[:, None] + body[None] + wobble


def observe(rig: Rig, X: np.ndarray, noise_px: float, outliers: float, seed: int = 1):
    """(C, F, J, 2) noisy pixels (NaN outside the image) with a share of gross outliers."""
    rng = np.random.default_rng(seed)
    xy = rig.project(X.reshape(-1, 3)).reshape(len(rig), *X.shape[:2], 2)
    xy = xy + rng.normal(0, noise_px, xy.shape)
    bad = rng.random(xy.shape[:-1]) < outliers
    xy[bad] += rng.uniform(-80, 80, (int(bad.sum()), 2))
    w, h = rig[0].size_wh
    out = (xy[..., 0] < 0) | (xy[..., 0] > w) | (xy[..., 1] < 0) | (xy[..., 1] > h)
    xy[out] = np.nan
    return xy


def aligned_errors(rig: Rig, truth: Rig) -> tuple[float, float]:
    c, t = camera_centers(rig.cameras), camera_centers(truth.cameras)
    T, s = similarity_from_points(c, t)
    al = transform_rig(rig, T, s)
    rot = [float(rotation_angle_deg(a.R_cam_from_world, b.R_cam_from_world)) for a, b in zip(al, truth)]
    return float(np.max(np.linalg.norm(camera_centers(al.cameras) - t, axis=1))), max(rot)


def test_relative_pose_of_two_cameras():
    truth = arc_rig(2)
    X = walking_points(60)
    xy = observe(truth, X, 0.0, 0.0)
    xn = [c.undistort_points(xy[i].reshape(-1, 2)) for i, c in enumerate(truth)]
    ok = np.isfinite(xn[0][:, 0]) & np.isfinite(xn[1][:, 0])
    R, t, inl = relative_pose(xn[0][ok], xn[1][ok], 1.0 / 600)
    a, b = truth
    R_true = b.R_cam_from_world @ a.R_cam_from_world.T
    t_true = b.t_cam_from_world - R_true @ a.t_cam_from_world
    assert float(rotation_angle_deg(R, R_true)) < 1e-3
    assert np.dot(t, t_true / np.linalg.norm(t_true)) > 1 - 1e-8 and inl.mean() > 0.99


def test_cameras_found_and_refined_from_noisy_points():
    truth = arc_rig(4)
    xy = observe(truth, walking_points(), 1.0, 0.02)
    rig0, pairs = bootstrap_rig(truth.cameras, xy)
    assert len(pairs) == 6
    centre0, rot0 = aligned_errors(rig0, truth)
    assert centre0 < 0.02 and rot0 < 1.0            # measured: 0.3 cm, 0.45 deg
    refined = refine_from_keypoints(rig0, xy, options=KeypointRefineOptions(max_points=600))
    centre, rot = aligned_errors(refined.rig, truth)
    assert centre < 0.005 and rot < 0.3             # measured: 0.1 cm, 0.10 deg (1 px: 0.1 deg)
    assert np.all(refined.error_after_px < 5.0)     # measured: 3.4-3.9 px (outliers within 15 px kept)


def test_a_camera_linked_to_no_other_is_named():
    truth = arc_rig(3)
    xy = observe(truth, walking_points(), 0.5, 0.0)
    xy[2, :, :] = np.nan
    xy[2, :10, :3] = 100.0                           # a few points, never with the others
    xy[:2, :10, :3] = np.nan
    with pytest.raises(InsufficientDataError, match=r"^camera 'cam3': shares 0 points at best "
                       r"with another camera, expected at least 50 seen at the same instant "
                       r"to link it to the others \(linked: cam1, cam2\)$"):
        bootstrap_rig(truth.cameras, xy)
