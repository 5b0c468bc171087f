"""The session report's metrics (reprojection errors, bone lengths, the contact sheet's
frames and crops), on arrays."""
from __future__ import annotations

import numpy as np
import pytest

from mocap.geometry import bone_length_stats, bone_lengths
from mocap.keypoints import get_format
from mocap.report import contact_sheet_frames, crop_box, reprojection_errors_px


def test_reprojection_error_is_zero_for_exact_points_and_ignores_low_confidence(studio4,
                                                                              clean_take):
    det = clean_take.detections
    noise_free = np.stack([cam.project(clean_take.gt_xyz) for cam in studio4])
    conf = np.ones(det.conf.shape, np.float32)
    conf[1, 5] = 0.05
    err = reprojection_errors_px(studio4, clean_take.gt_xyz, noise_free, conf, 0.2)
    finite = np.isfinite(noise_free).all(-1) & (conf >= 0.2)
    assert np.all(np.isfinite(err) == finite)
    assert np.nanmax(err) < 1e-6
    shifted = noise_free + np.array([3.0, 4.0])
    err = reprojection_errors_px(studio4, clean_take.gt_xyz, shifted, conf, 0.2)
    np.testing.assert_allclose(err[finite], 5.0, atol=1e-5)
    assert np.isnan(err[1, 5]).all()


def test_reprojection_rejects_mismatched_shapes(studio4, clean_take):
    from mocap.errors import MocapError
    det = clean_take.detections
    with pytest.raises(MocapError, match="do not match"):
        reprojection_errors_px(studio4, clean_take.gt_xyz[:10], det.xy, det.conf, 0.2)


def test_bone_lengths_of_ground_truth_are_constant(clean_take):
    fmt = get_format("body25")
    lengths = bone_lengths(clean_take.gt_xyz[:, 0], fmt.bone_indices)
    assert lengths.shape == (clean_take.gt_xyz.shape[0], len(fmt.bone_indices))
    st = bone_length_stats(lengths)
    # the simulated body is rigid: hip-knee, knee-ankle, shoulder-elbow, elbow-wrist exact
    names = fmt.joint_names
    for a, b in (("left_hip", "left_knee"), ("right_knee", "right_ankle"),
                 ("left_shoulder", "left_elbow"), ("right_elbow", "right_wrist")):
        k = [i for i, (p, c) in enumerate(fmt.bone_indices)
             if {names[p], names[c]} == {a, b}][0]
        assert st["cv"][k] < 1e-9
        assert 0.2 < st["median_m"][k] < 0.5
    assert (st["count"] == lengths.shape[0]).all()


def test_bone_length_stats_count_nan_as_missing():
    lengths = np.array([[1.0, np.nan], [1.2, np.nan], [np.nan, np.nan]])
    st = bone_length_stats(lengths)
    assert st["count"].tolist() == [2, 0]
    assert st["median_m"][0] == pytest.approx(1.1)
    assert np.isnan(st["median_m"][1])


def test_contact_sheet_frames_are_spread_over_frames_with_points():
    have = np.zeros(100, bool)
    have[20:80] = True
    f = contact_sheet_frames(have, 5)
    assert f.tolist() == [20, 35, 50, 64, 79]
    assert contact_sheet_frames(np.zeros(3, bool), 5).tolist() == [0, 1, 2]


def test_crop_box_keeps_the_aspect_and_stays_inside_the_image():
    box = crop_box(np.array([[900.0, 400.0], [1000.0, 700.0], [np.nan, 0.0]]), (1920, 1080))
    x0, y0, x1, y1 = box
    assert (x1 - x0) / (y1 - y0) == pytest.approx(1920 / 1080)
    assert x0 <= 900 and x1 >= 1000 and y0 <= 400 and y1 >= 700
    assert 0 <= x0 and x1 <= 1920 and 0 <= y0 and y1 <= 1080
    # points at the border: the box is shifted inside, not cut
    x0, y0, x1, y1 = crop_box(np.array([[5.0, 5.0], [50.0, 300.0]]), (1920, 1080))
    assert x0 == 0 and y0 == 0 and y1 > 300
    assert crop_box(np.full((3, 2), np.nan), (640, 480)) == (0, 0, 640, 480)
