"""Focal lengths found with no board and nothing known of the lenses
(:mod:`calibration.focal`, the focal and k1 refinement of :mod:`calibration.people`, and the
uncertainty of :mod:`calibration.covariance`): a ring of cameras all aimed at the middle of
the volume (the set-up where the fundamental matrix cannot tell the focal), points drifting
through it as a person's joints do."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse

from calibration import Camera, InsufficientDataError, Rig
from calibration.bootstrap import bootstrap_rig
from calibration.covariance import camera_parameter_sd
from calibration.focal import centred_cameras, sweep_focal
from calibration.people import KeypointRefineOptions, refine_from_keypoints
from calibration.world import camera_centers, similarity_from_points

SIZE = (1280, 720)


def ring_rig(focals, k1: float = 0.0) -> Rig:
    """Cameras on a circle of radius 4 m, 2.2 m high, all aimed at (0, 0, 1) m; principal
    point at the image centre, square pixels."""
    w, h = SIZE
    cams = []
    for i, (a, f) in enumerate(zip(np.radians(np.linspace(0, 360, len(focals), endpoint=False) + 20),
                                   focals)):
        K = np.array([[f, 0.0, (w - 1) / 2], [0.0, f, (h - 1) / 2], [0.0, 0.0, 1.0]])
        eye = (4.0 * np.cos(a), 4.0 * np.sin(a), 2.2)
        cams.append(Camera.look_at(f"cam{i + 1}", SIZE, K, np.array([k1, 0, 0, 0, 0.0]), eye,
                                   (0.0, 0.0, 1.0)))
    return Rig(tuple(cams))


def walking_points(F: int = 150, J: int = 15, seed: int = 0) -> np.ndarray:
    """(F, J, 3) joints of a 1.7 m 'person' walking a 1.5 m circle, world metres."""
    rng = np.random.default_rng(seed)
    body = np.c_[rng.uniform(-0.2, 0.2, (J, 2)), rng.uniform(0.05, 1.7, J)]
    theta = np.linspace(0, 2 * np.pi, F)
    centre = 1.5 * np.c_[np.cos(theta), np.sin(theta), np.zeros(F)]
    return centre[:, None] + body[None] + 0.05 * rng.standard_normal((F, J, 3))


def observe(rig: Rig, X: np.ndarray, noise_px: float, seed: int = 1) -> np.ndarray:
    """(C, F, J, 2) noisy pixels, NaN outside the image."""
    rng = np.random.default_rng(seed)
    xy = rig.project(X.reshape(-1, 3)).reshape(len(rig), *X.shape[:2], 2)
    xy = xy + rng.normal(0, noise_px, xy.shape)
    out = (xy[..., 0] < 0) | (xy[..., 0] > SIZE[0]) | (xy[..., 1] < 0) | (xy[..., 1] > SIZE[1])
    xy[out] = np.nan
    return xy


def test_sweep_finds_a_shared_focal_where_the_axes_meet():
    truth = ring_rig([900.0] * 4)
    xy = observe(truth, walking_points(80), 1.0)
    sweep = sweep_focal(truth.names, [c.size_wh for c in truth], xy)
    assert abs(sweep.ratio * SIZE[0] / 900.0 - 1) < 0.03         # measured 0.4 %
    assert sweep.score_px < 2.0 and sweep.score_px <= np.min(sweep.scores)
    far = np.abs(np.log(sweep.ratios * SIZE[0] / 900.0)) > np.log(1.3)
    assert np.all(sweep.scores[far] > 3 * sweep.score_px)       # a clear minimum


def test_each_focal_and_k1_refined_with_their_uncertainty():
    focals = np.array([850.0, 900.0, 960.0, 1000.0])
    truth = ring_rig(focals, k1=-0.06)
    xy = observe(truth, walking_points(120), 1.0)
    sweep = sweep_focal(truth.names, [c.size_wh for c in truth], xy)
    cams = centred_cameras(truth.names, [c.size_wh for c in truth], [sweep.ratio * SIZE[0]] * 4)
    rig0, _ = bootstrap_rig(cams, xy)
    res = refine_from_keypoints(rig0, xy, None, KeypointRefineOptions(refine_focal=True,
                                                                      refine_k1=True))
    f = np.array([c.K[0, 0] for c in res.rig])
    err = f / focals - 1
    assert np.all(np.abs(err) < 0.02)                           # measured within 0.13 % (sd 0.1 %)
    assert all(c.K[1, 1] == pytest.approx(c.K[0, 0]) for c in res.rig)   # square pixels kept
    assert all(c.K[0, 2] == (SIZE[0] - 1) / 2 for c in res.rig)          # centre kept
    sd = res.focal_sd_px / f
    assert np.all((sd > 1e-4) & (sd < 0.01))
    assert np.all(np.abs(err) < 5 * sd + 0.002)                 # the errors are of its size
    assert np.all(np.abs([c.dist[0] + 0.06 for c in res.rig]) < 0.03)
    assert res.k1_sd is not None and np.all(res.k1_sd > 0)
    c, t = camera_centers(res.rig.cameras), camera_centers(truth.cameras)
    T, s = similarity_from_points(c, t)
    moved = (s * (T[:3, :3] @ c.T)).T + T[:3, 3]
    assert np.max(np.linalg.norm(moved - t, axis=1)) < 0.03


def test_no_focal_places_cameras_that_see_unrelated_points():
    truth = ring_rig([900.0] * 3)
    rng = np.random.default_rng(3)
    xy = np.stack([observe(Rig((cam,)), walking_points(20, seed=s), 1.0)[0]
                   for s, cam in zip(rng.integers(0, 1000, 3), truth)])
    with pytest.raises(InsufficientDataError, match="no focal length"):
        sweep_focal(truth.names, [c.size_wh for c in truth], xy)


def test_two_cameras_cannot_tell_the_focal():
    truth = ring_rig([900.0] * 2)
    with pytest.raises(InsufficientDataError, match="at least 3 cameras"):
        sweep_focal(truth.names, [c.size_wh for c in truth], observe(truth, walking_points(20), 1.0))


def test_camera_uncertainty_is_the_schur_complement_of_the_normal_matrix():
    """Against the dense inverse of the whole normal matrix (a random sparse Jacobian: 5
    camera parameters, 30 points of 3)."""
    rng = np.random.default_rng(0)
    n_cam, S, k, M = 5, 30, 3, 400
    J = np.zeros((M, n_cam + S * k))
    J[:, :n_cam] = rng.standard_normal((M, n_cam))
    owner = rng.integers(0, S, M)
    for m in range(M):
        J[m, n_cam + owner[m] * k: n_cam + owner[m] * k + k] = rng.standard_normal(k)
    r = rng.standard_normal(M)
    sd = camera_parameter_sd(scipy.sparse.csr_matrix(J), r, n_cam, k)
    sigma2 = r @ r / (M - J.shape[1])
    full = np.linalg.inv(J.T @ J) * sigma2
    assert sd == pytest.approx(np.sqrt(np.diag(full)[:n_cam]), rel=1e-6)
