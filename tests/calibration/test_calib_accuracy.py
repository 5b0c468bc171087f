"""Board calibration end to end on rendered images with known truth (the "Done when" bounds):
camera centres within 5 mm, rotations within 0.2 degrees, focal lengths within 0.3 %,
reprojection error below 0.3 px; the world frame from a board on the floor."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.calibrate import calibrate_rig
from calibration.boards import detect_views
from calibration.extrinsics import mean_rotation, rotation_angle_deg
from calibration.world import align_to_floor_board, transform_rig

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def calibrated(board_scene):
    rig, spec, take = board_scene
    views = [detect_views(enumerate(take.images[c]), spec, cam.name, "rendered")
             for c, cam in enumerate(rig)]
    return views, calibrate_rig(views, spec)


def align_rig(est, truth):
    """``est`` in the true world frame, by the rigid transform (no scale: the board gives it)
    that best maps the estimated camera poses onto the true ones: rotation the chordal mean of
    the per-camera ones, translation the mean centre offset after it."""
    R_a = mean_rotation(np.stack([b.R_cam_from_world.T @ a.R_cam_from_world for a, b in zip(est, truth)]))
    t_a = np.mean([b.center - R_a @ a.center for a, b in zip(est, truth)], axis=0)
    T = np.eye(4)
    T[:3, :3], T[:3, 3] = R_a, t_a
    return transform_rig(est, T)


def errors_against_truth(est, truth):
    """Per camera: centre error (mm), rotation error (deg), |focal error| (%) for fx and fy,
    after :func:`align_rig`."""
    rows = []
    for a, b in zip(align_rig(est, truth), truth):
        rows.append((
            1000 * np.linalg.norm(a.center - b.center),
            float(rotation_angle_deg(a.R_cam_from_world, b.R_cam_from_world)),
            100 * abs(a.K[0, 0] / b.K[0, 0] - 1),
            100 * abs(a.K[1, 1] / b.K[1, 1] - 1),
        ))
    return np.array(rows)


def test_rendered_rig_is_recovered_within_the_bounds(board_scene, calibrated):
    rig, _, _ = board_scene
    views, result = calibrated
    err = errors_against_truth(result.rig, rig)
    print("centre mm, rotation deg, fx %, fy %:\n", np.round(err, 3))
    assert err[:, 0].max() < 5.0, f"camera centres off by {err[:, 0]} mm"
    assert err[:, 1].max() < 0.2, f"rotations off by {err[:, 1]} deg"
    assert err[:, 2:].max() < 0.3, f"focal lengths off by {err[:, 2:]} %"
    assert result.bundle.error_px_per_camera.max() < 0.3
    assert result.rig.metadata.adjusted
    np.testing.assert_allclose(result.rig.metadata.error_px_per_camera,
                               result.bundle.error_px_per_camera)


def test_bundle_adjustment_improves_on_the_first_guess(board_scene, calibrated):
    views, result = calibrated
    assert result.bundle.error_px < result.bundle.initial_error_px
    # Every camera was linked to the others and used many views; coverage is reported.
    assert all(n >= 10 for n in result.views_used)
    assert all(0.3 < c.fraction <= 1.0 for c in result.coverage)
    assert (result.graph.shared[np.triu_indices(len(views), 1)] > 0).all()


def test_partial_and_occluded_views_are_used(board_scene, calibrated):
    views, _ = calibrated
    counts = np.concatenate([v.counts for v in views])
    assert counts.min() < 24 <= counts.max()  # some views show only part of the board


def test_floor_board_sets_origin_axes_and_metres(board_scene, calibrated):
    from calibration.boards import board_from_dict, detect_corners
    from calibration.render import render_take
    from calibration.world import locate_board

    from calib_scenes import FLOOR_BOARD, FLOOR_ORIGIN, floor_board_pose

    rig, _, _ = board_scene
    _, result = calibrated
    mat = board_from_dict(dict(FLOOR_BOARD))
    floor = render_take(rig, mat, floor_board_pose()[None])
    corners = {}
    for c, cam in enumerate(rig):
        found = detect_corners(floor.images[c][0], mat)
        if found is not None:
            corners[cam.name] = np.full((mat.num_corners, 2), np.nan)
            corners[cam.name][found.ids] = found.xy
    assert len(corners) >= 2
    # The calibration's world is its first camera's frame; the mat gives metres, Z up.
    aligned, _ = align_to_floor_board(result.rig, locate_board(result.rig, corners, mat))
    for a, b in zip(aligned, rig):
        assert np.linalg.norm(a.center - (b.center - FLOOR_ORIGIN)) < 0.01
        assert rotation_angle_deg(a.R_cam_from_world, b.R_cam_from_world) < 0.3
    assert all(1.55 < c.center[2] < 1.65 for c in aligned)  # Z up, metres: cameras 1.6 m high


def test_disconnected_camera_is_named(board_scene, calibrated):
    from calibration import DisconnectedCamerasError
    from calibration.boards import BoardViews

    rig, spec, _ = board_scene
    views, _ = calibrated
    # cam4 keeps only the views no other camera has: it shares nothing with the rest.
    others = set(np.concatenate([v.frames for v in views[:3]]).tolist())
    v = views[3]
    alone = np.array([f not in others for f in v.frames])
    cut = BoardViews(v.camera, v.source, v.size_wh, v.frames[alone], v.xy[alone],
                     v.blur_px[alone], v.frames_read)
    with pytest.raises(DisconnectedCamerasError, match=r"cameras \['cam4'\] share no board view "
                       r"with cameras \['cam1', 'cam2', 'cam3'\].*cam4: 0"):
        calibrate_rig(views[:3] + [cut], spec)


def test_fisheye_intrinsics_from_rendered_views():
    from calibration import Camera, Rig
    from calibration.boards import board_from_dict
    from calibration.calibrate import intrinsics_only
    from calibration.intrinsics import calibrate_intrinsics
    from calibration.render import RenderStyle, random_board_poses, render_take

    from calib_scenes import BOARD

    K = np.array([[330.0, 0, 322.0], [0, 331.0, 236.0], [0, 0, 1]])
    truth = Camera("fish", (640, 480), K, np.array([0.06, -0.02, 0.004, -0.001]), np.eye(3),
                   np.zeros(3), model="fisheye")
    spec = board_from_dict(dict(BOARD))
    poses = random_board_poses(Rig((truth,)), spec, 14, (0.0, 0.0, 0.9), (0.35, 0.25, 0.15),
                               tilt_deg=45, rng=np.random.default_rng(4))
    take = render_take(Rig((truth,)), spec, poses, RenderStyle(noise_std=1.5))
    views = detect_views(enumerate(take.images[0]), spec, "fish", "rendered")
    first = calibrate_intrinsics(views, spec, model="fisheye")
    cam, ba = intrinsics_only(views, spec, model="fisheye")
    assert cam.model == "fisheye" and cam.dist.size == 4
    assert ba.error_px < 0.3 and ba.error_px <= first.rms_px + 1e-6
    np.testing.assert_allclose(cam.K[[0, 1], [0, 1]], K[[0, 1], [0, 1]], rtol=0.003)
    np.testing.assert_allclose(cam.K[:2, 2], K[:2, 2], atol=2.0)
    assert 0.3 < first.coverage.fraction <= 1.0


def test_views_not_taken_at_the_same_instants_are_not_linked(board_scene, calibrated):
    """Frame numbers that match but instants that do not (unsynchronised videos, image folders
    of separate sessions): the relative poses disagree and the camera is named."""
    from calibration import DisconnectedCamerasError
    from calibration.boards import BoardViews

    rig, spec, _ = board_scene
    views, _ = calibrated
    v = views[3]
    shuffled = np.random.default_rng(0).permutation(v.frames)
    order = np.argsort(shuffled)
    moved = BoardViews(v.camera, v.source, v.size_wh, shuffled[order], v.xy[order],
                       v.blur_px[order], v.frames_read)
    with pytest.raises(DisconnectedCamerasError, match=r"cameras \['cam4'\] share no board view.*"
                       r"cam4: \d+, of which \d+ agree on the relative pose \(not filmed at the same instants\?\)"):
        calibrate_rig(views[:3] + [moved], spec)


def test_a_calibration_that_does_not_fit_is_refused(board_scene, calibrated):
    from calibration import CalibrationError
    from calibration.calibrate import CalibrationOptions

    _, spec, _ = board_scene
    views, result = calibrated
    worst = float(result.bundle.error_px_per_camera.max())
    with pytest.raises(CalibrationError, match=r"bundle adjustment: expected every camera's "
                       r"reprojection error below 0.01 px, found cam1: .* px.*wrong board spec"):
        calibrate_rig(views, spec, CalibrationOptions(max_error_px=0.01))
    assert worst < 0.3
