"""Undistortion: inverse of distortion, agreement with OpenCV, NaN outside the valid region."""

from __future__ import annotations

import warnings

import cv2
import numpy as np
import pytest

from calibration import (
    CalibrationError,
    Camera,
    ShapeError,
    distort_normalized,
    normalized_to_pixels,
    undistort_normalized,
)

CONVERGED = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 200, 1e-15)


def _disc(radius: float, n: int = 4000, seed: int = 0) -> np.ndarray:
    """(n, 2) normalised points spread over a disc of the given radius."""
    rng = np.random.default_rng(seed)
    r = radius * np.sqrt(rng.uniform(0, 1, n))
    a = rng.uniform(0, 2 * np.pi, n)
    return np.stack([r * np.cos(a), r * np.sin(a)], axis=-1)


def _cv2_undistort(xy_px, K, dist):
    """cv2.undistortPoints run to convergence (its default stops after 5 iterations)."""
    src = np.ascontiguousarray(xy_px[:, None], dtype=np.float64)
    if hasattr(cv2, "undistortPointsIter"):  # OpenCV 4.x
        return cv2.undistortPointsIter(src, K, dist, None, None, CONVERGED)[:, 0]
    return cv2.undistortPoints(src, K, dist, criteria=CONVERGED)[:, 0]  # OpenCV 5


@pytest.mark.parametrize("n_coeffs", [4, 5, 8])
def test_pinhole_round_trip(n_coeffs, pinhole_dists):
    dist = pinhole_dists[n_coeffs]
    xy_n = _disc(1.0)  # a 90 degree field of view
    back = undistort_normalized(distort_normalized(xy_n, dist), dist)
    assert np.isfinite(back).all()
    np.testing.assert_allclose(back, xy_n, rtol=0, atol=1e-8)


def test_fisheye_round_trip(fisheye_dist):
    xy_n = _disc(np.tan(np.radians(85.0)))
    back = undistort_normalized(
        distort_normalized(xy_n, fisheye_dist, "fisheye"), fisheye_dist, "fisheye"
    )
    assert np.isfinite(back).all()
    scale = np.maximum(1.0, np.abs(xy_n))
    np.testing.assert_array_less(np.abs(back - xy_n) / scale, 1e-8)


@pytest.mark.parametrize("n_coeffs", [4, 5, 8])
def test_pinhole_agrees_with_opencv_undistort_points(n_coeffs, K, pinhole_dists):
    dist = pinhole_dists[n_coeffs]
    cam = Camera("c", (1920, 1080), K, dist, np.eye(3), np.zeros(3))
    xy_px = normalized_to_pixels(distort_normalized(_disc(0.9), dist), K)
    np.testing.assert_allclose(
        cam.undistort_points(xy_px), _cv2_undistort(xy_px, K, dist), rtol=0, atol=1e-8
    )


def test_fisheye_agrees_with_opencv(K, fisheye_dist):
    cam = Camera("c", (1920, 1080), K, fisheye_dist, np.eye(3), np.zeros(3), "fisheye")
    # within 60 degrees, where OpenCV's own fixed iteration count converges
    xy_px = normalized_to_pixels(
        distort_normalized(_disc(np.tan(np.radians(60))), fisheye_dist, "fisheye"), K
    )
    ref = cv2.fisheye.undistortPoints(xy_px[:, None], K, fisheye_dist, criteria=CONVERGED)[:, 0]
    np.testing.assert_allclose(cam.undistort_points(xy_px), ref, rtol=0, atol=1e-8)


def test_undistort_pixels_equals_projection_without_distortion(camera, scene_points):
    ideal = camera.replace(dist=np.zeros(5))
    np.testing.assert_allclose(
        camera.undistort_pixels(camera.project(scene_points)),
        ideal.project(scene_points),
        rtol=0,
        atol=1e-6,
    )


def test_converges_right_up_to_the_fold():
    """k1 = -0.3 alone folds at r = 1/sqrt(0.9): the distorted radius peaks at about 0.7027."""
    dist = np.array([-0.3, 0.0, 0.0, 0.0])
    r = np.array([0.2, 0.6, 0.9, 1.0, 1.04])
    xy_n = np.stack([r, np.zeros_like(r)], axis=-1)
    back = undistort_normalized(distort_normalized(xy_n, dist), dist)
    np.testing.assert_allclose(back, xy_n, rtol=0, atol=1e-8)


def test_no_inverse_beyond_the_fold_is_nan_without_warnings():
    dist = np.array([-0.3, 0.0, 0.0, 0.0])
    xy_d = np.array(
        [[0.75, 0.0], [0.0, -2.0], [3.0, 4.0], [1e8, 1.0], [np.inf, 0.0], [np.nan, 0.1], [0.3, 0.1]]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = undistort_normalized(xy_d, dist)
    assert np.isnan(out[:6]).all()
    np.testing.assert_allclose(distort_normalized(out[6], dist), xy_d[6], atol=1e-12)


def test_fisheye_beyond_ninety_degrees_is_nan(fisheye_dist):
    theta = np.pi / 2
    t2 = theta**2
    k1, k2, k3, k4 = fisheye_dist
    theta_d_max = theta * (1 + k1 * t2 + k2 * t2**2 + k3 * t2**3 + k4 * t2**4)
    out = undistort_normalized(
        np.array([[theta_d_max * 1.01, 0.0], [0.0, 0.0]]), fisheye_dist, "fisheye"
    )
    assert np.isnan(out[0]).all()
    np.testing.assert_array_equal(out[1], [0.0, 0.0])


def test_no_distortion_is_identity():
    xy = _disc(3.0, n=50)
    np.testing.assert_array_equal(undistort_normalized(xy, np.zeros(5)), xy)
    np.testing.assert_array_equal(undistort_normalized(xy, []), xy)
    np.testing.assert_array_equal(distort_normalized(xy, []), xy)


def test_batch_shape_is_kept(pinhole_dists):
    xy = _disc(0.5, n=24).reshape(2, 3, 4, 2)
    out = undistort_normalized(xy, pinhole_dists[8])
    assert out.shape == (2, 3, 4, 2)
    np.testing.assert_allclose(distort_normalized(out, pinhole_dists[8]), xy, atol=1e-12)


def test_bad_arguments_are_named():
    with pytest.raises(ShapeError, match=r"xy_d: expected shape \(\.\.\., 2\), found \(5, 3\)"):
        undistort_normalized(np.zeros((5, 3)), np.zeros(5))
    with pytest.raises(
        ShapeError,
        match=r"dist: expected 0 or 4 or 5 or 8 coefficients for model 'pinhole', found shape \(6,\)",
    ):
        distort_normalized(np.zeros((5, 2)), np.zeros(6))
    with pytest.raises(
        ShapeError, match=r"dist: expected 4 coefficients for model 'fisheye', found shape \(5,\)"
    ):
        undistort_normalized(np.zeros((5, 2)), np.zeros(5), "fisheye")
    with pytest.raises(
        CalibrationError, match=r"model: expected one of \['pinhole', 'fisheye'\], found 'kb8'"
    ):
        distort_normalized(np.zeros((5, 2)), np.zeros(4), "kb8")
