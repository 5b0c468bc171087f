"""Nothing silently wrong: each camera's contribution after triangulation, and why a take
reconstructed no one (mocap/triangulate/health.py)."""
import dataclasses

import numpy as np
import pytest

from mocap.errors import TriangulationError
from mocap.settings import TriangulateSettings
from mocap.triangulate import triangulate
from mocap.triangulate.health import camera_health, check_reconstructed, health_problems

from bad_sessions import scaled, turned_around


def health_of(det, rig, settings=TriangulateSettings()):
    points = triangulate(det, rig, settings)
    return camera_health(rig.arrays(), rig.names, det.xy, det.conf, points.xyz,
                         points.views_used, settings.min_conf, settings.reproj_threshold_px)


def test_health_of_a_good_take_names_no_camera(studio4, noisy_take):
    health = health_of(noisy_take.detections, studio4)
    assert [h.camera for h in health] == list(studio4.names)
    assert all(h.ok for h in health) and health_problems(health) == []
    assert all(h.share_used > 0.9 and h.median_reproj_px < 5 for h in health)


def test_health_names_a_camera_that_looks_the_wrong_way(studio4, noisy_take):
    health = health_of(noisy_take.detections, turned_around(studio4, "cam3"))
    problems = health_problems(health)
    assert len(problems) == 1, problems
    assert problems[0].startswith("cam3: used for 0 % of its ")
    assert "looks the wrong way: check its rotation" in problems[0]


def test_health_names_detections_at_another_resolution(studio4, noisy_take):
    health = health_of(scaled(noisy_take.detections, 2, 2.0), studio4)
    problems = health_problems(health)
    assert len(problems) == 1, problems
    assert problems[0].startswith("cam3: used for 0 % of its ")
    assert "median reprojection" in problems[0]
    assert "but the calibration says 1920 x 1080: were they made at another resolution?" \
        in problems[0]
    table = health[2].as_dict()
    assert table["ok"] is False and table["size_wh"] == [1920, 1080]
    assert table["extent_max_xy"][0] > 1920


def test_check_reconstructed_says_no_joint_has_min_views(studio4, noisy_take):
    det = noisy_take.detections
    settings = dataclasses.replace(TriangulateSettings(), min_views=5)
    points = triangulate(det, studio4, settings)
    with pytest.raises(TriangulationError, match=r"nothing reconstructed.*min_views = 5 "
                                                 r"cameras.*at most 4 of 4"):
        check_reconstructed(points.xyz, det.xy, det.conf, settings)


def test_check_reconstructed_says_no_detection_reaches_min_conf(studio4, noisy_take):
    det = noisy_take.detections.replace(conf=noisy_take.detections.conf * 0.5)
    settings = dataclasses.replace(TriangulateSettings(), min_conf=0.6)
    points = triangulate(det, studio4, settings)
    with pytest.raises(TriangulationError, match=r"no detection reaches \[triangulate\] "
                                                 r"min_conf = 0.6"):
        check_reconstructed(points.xyz, det.xy, det.conf, settings)
    check_reconstructed(triangulate(det, studio4).xyz, det.xy, det.conf, TriangulateSettings())


def test_health_names_keypoints_outside_the_image(studio4, noisy_take):
    det = noisy_take.detections
    xy = det.xy.copy()
    xy[0, ..., 0] -= 1500.0                                  # cam1's keypoints left of the image
    problems = health_problems(health_of(det.replace(xy=xy), studio4))
    assert len(problems) == 1 and problems[0].startswith("cam1: used for 0 % of its ")
    assert "outside the calibration's 1920 x 1080 image" in problems[0]


def test_health_names_detections_made_at_a_lower_resolution(studio4, noisy_take):
    problems = health_problems(health_of(scaled(noisy_take.detections, 3, 0.5), studio4))
    assert len(problems) == 1 and problems[0].startswith("cam4: used for 0 % of its ")
    assert "were they made at a lower resolution?" in problems[0]


def test_health_of_a_camera_whose_detections_association_dropped(studio4, noisy_take):
    """A camera none of whose skeletons association kept: its joints are counted from all its
    detections, its reprojection error against the nearest person."""
    every = scaled(noisy_take.detections, 2, 2.0)
    kept = every.replace(conf=every.conf * (np.arange(4) != 2)[:, None, None, None])
    points = triangulate(kept, studio4)
    health = camera_health(studio4.arrays(), studio4.names, kept.xy, kept.conf, points.xyz,
                           points.views_used, 0.2, 15.0, every.xy, every.conf)
    seen = int(((every.conf[2] >= 0.2) & np.isfinite(every.xy[2]).all(-1)).sum())
    assert health[2].joints_seen == seen and health[2].joints_used == 0
    assert health[2].median_reproj_px > 100
    assert "another resolution" in health_problems(health)[0]
