"""Camera projection: agreement with OpenCV, P, look_at, NaN behind the camera, immutability."""

from __future__ import annotations

import pickle

import cv2
import numpy as np
import pytest

from calibration import Camera, CameraError, ShapeError, project_points, rotvec_to_rotmat

RVEC = np.array([0.1, -0.2, 0.05])
TVEC = np.array([0.1, -0.2, 3.0])


def _wide_field_points(n: int = 500, half_angle_deg: float = 40.0, seed: int = 0) -> np.ndarray:
    """(n, 3) camera-frame points filling a cone of the given half angle, 0.5 to 6 m deep."""
    rng = np.random.default_rng(seed)
    depth = rng.uniform(0.5, 6.0, n)
    r = np.tan(np.radians(half_angle_deg)) * np.sqrt(rng.uniform(0, 1, n))
    a = rng.uniform(0, 2 * np.pi, n)
    return np.stack([r * np.cos(a) * depth, r * np.sin(a) * depth, depth], axis=-1)


def _to_world(X_cam: np.ndarray) -> np.ndarray:
    R = rotvec_to_rotmat(RVEC)
    return (X_cam - TVEC) @ R  # R^T (X_cam - t)


# ----------------------------------------------------------------------------- exact recovery


@pytest.mark.parametrize("n_coeffs", [4, 5, 8])
def test_pinhole_projection_matches_opencv(n_coeffs, K, pinhole_dists):
    dist = pinhole_dists[n_coeffs]
    cam = Camera.from_rvec("c", (1920, 1080), K, dist, RVEC, TVEC)
    X = _to_world(_wide_field_points())
    ref, _ = cv2.projectPoints(X, RVEC, TVEC, K, dist)
    np.testing.assert_allclose(cam.project(X), ref[:, 0], rtol=0, atol=1e-6)


def test_fisheye_projection_matches_opencv(K, fisheye_dist):
    cam = Camera.from_rvec("c", (1920, 1080), K, fisheye_dist, RVEC, TVEC, model="fisheye")
    X = _to_world(_wide_field_points(half_angle_deg=80.0))
    ref, _ = cv2.fisheye.projectPoints(X[:, None], RVEC, TVEC, K, fisheye_dist)
    np.testing.assert_allclose(cam.project(X), ref[:, 0], rtol=0, atol=1e-6)


def test_P_projection_equals_project_without_distortion(K):
    cam = Camera.from_rvec("c", (1920, 1080), K, np.zeros(5), RVEC, TVEC)
    X = _to_world(_wide_field_points())
    h = np.hstack([X, np.ones((len(X), 1))]) @ cam.P.T
    np.testing.assert_allclose(h[:, :2] / h[:, 2:], cam.project(X), rtol=0, atol=1e-9)
    assert cam.P.shape == (3, 4)


def test_project_returns_camera_depth(camera, scene_points):
    xy, depth = camera.project(scene_points, return_depth=True)
    np.testing.assert_allclose(depth, camera.world_to_cam(scene_points)[:, 2])
    assert xy.shape == (200, 2) and depth.shape == (200,)


def test_center_maps_to_camera_origin(camera):
    np.testing.assert_allclose(camera.world_to_cam(camera.center), 0.0, atol=1e-12)


@pytest.mark.parametrize("model", ["pinhole", "fisheye"])
def test_points_behind_or_on_the_camera_plane_are_nan(model, K, fisheye_dist, pinhole_dists):
    dist = fisheye_dist if model == "fisheye" else pinhole_dists[5]
    cam = Camera("c", (1920, 1080), K, dist, np.eye(3), np.zeros(3), model)
    X = np.array([[0.1, 0.2, -1.0], [0.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.1, 0.1, 2.0]])
    xy, depth = cam.project(X, return_depth=True)
    assert np.isnan(xy[:3]).all()
    assert np.isfinite(xy[3]).all()
    np.testing.assert_array_equal(depth, [-1.0, 0.0, 0.0, 2.0])


def test_nan_points_project_to_nan(camera):
    X = np.array([[np.nan, 0.0, 1.0], [0.0, 0.0, 1.0]])
    xy = camera.project(X)
    assert np.isnan(xy[0]).all() and np.isfinite(xy[1]).all()


def test_project_keeps_batch_shape(camera):
    X = np.random.default_rng(1).normal(size=(2, 3, 5, 3))
    xy, depth = camera.project(X, return_depth=True)
    assert xy.shape == (2, 3, 5, 2) and depth.shape == (2, 3, 5)
    np.testing.assert_array_equal(xy.reshape(-1, 2), camera.project(X.reshape(-1, 3)))


def test_project_points_rejects_bad_shapes(K):
    with pytest.raises(ShapeError, match=r"X_world: expected shape \(\.\.\., 3\), found \(4, 2\)"):
        project_points(np.zeros((4, 2)), K, np.zeros(5), np.eye(3), np.zeros(3))
    with pytest.raises(ShapeError, match=r"K: expected shape \(3, 3\), found \(2, 3\)"):
        project_points(np.zeros((4, 3)), K[:2], np.zeros(5), np.eye(3), np.zeros(3))


# ----------------------------------------------------------------------------- look_at


@pytest.mark.parametrize(
    "eye, target",
    [
        ((4, 0, 2), (0, 0, 1)),
        ((-3, -3, 0.5), (0.2, 0.1, 1.7)),
        ((0.1, 5, 8), (0, 0, 0)),
        ((0, -6, 1), (0, 0, 1)),
    ],
)
def test_look_at_puts_target_at_principal_point(eye, target, K):
    cam = Camera.look_at("c", (1920, 1080), K, np.zeros(5), eye, target)
    np.testing.assert_allclose(cam.project(np.asarray(target, float)), K[:2, 2], atol=1e-9)
    np.testing.assert_allclose(cam.center, eye, atol=1e-12)


def test_look_at_keeps_world_up_upward_in_the_image(K):
    cam = Camera.look_at("c", (1920, 1080), K, np.zeros(5), (0, -5, 1), (0, 0, 1))
    target, above, right = cam.project(np.array([[0, 0, 1.0], [0, 0, 1.5], [0.5, 0, 1.0]]))
    assert above[1] < target[1]  # image y points down
    assert right[0] > target[0]  # looking along +Y with Z up, +X is to the right
    np.testing.assert_allclose(np.linalg.det(cam.R_cam_from_world), 1.0)


def test_look_at_rejects_up_parallel_to_view(K):
    with pytest.raises(CameraError, match=r"camera 'top': up: expected a direction not parallel"):
        Camera.look_at("top", (640, 480), K, np.zeros(4), (0, 0, 5), (0, 0, 0))
    with pytest.raises(CameraError, match=r"camera 'c': target: expected a point other than eye"):
        Camera.look_at("c", (640, 480), K, np.zeros(4), (1, 2, 3), (1, 2, 3))


# ----------------------------------------------------------------------------- immutability


def test_rvec_round_trip_and_opencv_rodrigues(K):
    cam = Camera.from_rvec("c", (640, 480), K, np.zeros(4), RVEC, TVEC)
    np.testing.assert_array_equal(cam.rvec, RVEC)
    np.testing.assert_allclose(cam.R_cam_from_world, cv2.Rodrigues(RVEC)[0], atol=1e-14)
    built_from_matrix = Camera("c", (640, 480), K, np.zeros(4), cam.R_cam_from_world, TVEC)
    np.testing.assert_allclose(built_from_matrix.rvec, RVEC, atol=1e-14)


def test_arrays_are_read_only_float64_copies(K):
    dist = np.array([0.1, 0.0, 0.0, 0.0], dtype=np.float32)
    cam = Camera("c", (640, 480), K, dist, np.eye(3), [0, 0, 1])
    K[0, 0] = 1.0
    assert cam.K[0, 0] == 1000.0
    for field in ("K", "dist", "R_cam_from_world", "t_cam_from_world"):
        arr = getattr(cam, field)
        assert arr.dtype == np.float64
        with pytest.raises(ValueError):
            arr[0] = 0.0
    with pytest.raises(AttributeError):
        cam.name = "other"


def test_replace_returns_a_validated_new_camera(camera):
    moved = camera.replace(t_cam_from_world=[0.0, 0.0, 5.0], name="moved")
    assert moved.name == "moved" and camera.name == "front"
    np.testing.assert_array_equal(moved.rvec, camera.rvec)
    with pytest.raises(CameraError, match="camera 'front': K"):
        camera.replace(K=np.eye(2))


def test_equality_and_pickle(camera):
    same = pickle.loads(pickle.dumps(camera))
    assert same == camera and same is not camera
    assert not same.K.flags.writeable
    assert camera != camera.replace(dist=np.zeros(5))


def test_size_from_integral_floats(K):
    cam = Camera("c", (1088.0, 1920.0), K, [], np.eye(3), np.zeros(3))
    assert cam.size_wh == (1088, 1920) and isinstance(cam.size_wh[0], int)
