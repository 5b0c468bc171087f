"""A long take fitted in overlapping windows (``[fit] chunk_frames``): the same body as the
whole-take fit, no jump where the windows meet, one shape; a take shorter than a window is
fitted exactly as before; the windows and the blend themselves."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from calibration.rotations import rotvec_to_rotmat
from mocap.body import load_body_model, rest_height
from mocap.body.metrics import keypoint_mpjpe_mm
from mocap.errors import FitError
from mocap.filter import filter_points
from mocap.fit import fit_points3d
from mocap.fit.chunks import blend_rotations, blend_weights, windows
from mocap.settings import Settings
from mocap.simulate import ErrorModel, load_rig_template
from mocap.simulate.bodymodel import BodyActor, simulate_body_take
from mocap.triangulate import triangulate
from mocap.types import Points3D

FRAMES, CHUNK, OVERLAP = 90, 40, 10


@pytest.fixture(scope="module")
def studio():
    """90 frames of Anny walking in the studio, triangulated and filtered as in ``mocap run``."""
    anny = load_body_model("anny")
    rig = load_rig_template("studio4")
    bt = simulate_body_take(rig, anny, [BodyActor("walk", seed=1)], FRAMES, 30.0, "body25",
                            ErrorModel(), seed=3)
    s = Settings()
    points = filter_points(triangulate(bt.take.detections, rig, s.triangulate), s.filter, rig)
    return anny, points, bt


@pytest.fixture(scope="module")
def fits(studio):
    anny, points, _ = studio
    base = dataclasses.replace(Settings().fit, device="cpu", reprojection_weight=0.0)
    whole = fit_points3d(points, dataclasses.replace(base, chunk_frames=0), anny)[0]
    chunked = fit_points3d(points, dataclasses.replace(
        base, chunk_frames=CHUNK, chunk_overlap_frames=OVERLAP), anny)[0]
    return whole, chunked


def _speed(joints: np.ndarray) -> np.ndarray:
    """(F - 1,) the fastest joint's displacement between consecutive frames, metres."""
    return np.linalg.norm(np.diff(joints, axis=0), axis=-1).max(-1)


def test_windows_cover_the_take_with_the_overlap():
    assert windows(90, 40, 10) == [(0, 40), (30, 70), (60, 90)]
    assert windows(40, 40, 10) == [(0, 40)] and windows(75, 40, 10) == [(0, 40), (30, 70), (55, 75)]
    for frames, chunk, overlap in ((100, 40, 30), (41, 40, 39), (1000, 97, 13)):
        b = windows(frames, chunk, overlap)
        assert b[0][0] == 0 and b[-1][1] == frames and all(e - s <= chunk for s, e in b)
        assert all(s0 < s1 and e0 - s1 >= overlap for (s0, e0), (s1, _) in zip(b, b[1:]))
    w = blend_weights(10)
    assert np.all(np.diff(w) > 0) and 0 < w[0] < 0.05 and 0.95 < w[-1] < 1
    a, b = rotvec_to_rotmat(np.array([[0.0, 0, 0.2]])), rotvec_to_rotmat(np.array([[0, 0, 0.6]]))
    np.testing.assert_allclose(blend_rotations(a, b, np.array([0.25])),
                               rotvec_to_rotmat(np.array([[0, 0, 0.3]])), atol=1e-12)


def test_chunked_fit_matches_the_whole_take_and_the_truth(studio, fits):
    anny, _, bt = studio
    whole, chunked = fits
    assert chunked.body.num_frames == FRAMES
    assert keypoint_mpjpe_mm(chunked.body.joints, whole.body.joints) < 5.0
    assert keypoint_mpjpe_mm(chunked.body.keypoints, bt.take.gt_xyz[:, 0]) < 15.0
    assert abs(chunked.height_m - bt.heights_m[0]) < 0.01
    # One shape: fitted in the first window only, never moved again.
    stages = [(r["window"], r["stage"]) for r in chunked.report]
    assert [w for w, _ in stages if _ in ("shape", "shape_orient")] == [0, 0]
    assert {w for w, _ in stages} == {0, 1, 2}
    assert abs(rest_height(anny, chunked.body.betas) - chunked.height_m) < 1e-9


def test_no_jump_where_the_windows_meet(fits):
    whole, chunked = fits
    v, v0 = _speed(chunked.body.joints), _speed(whole.body.joints)
    edges = np.zeros(FRAMES - 1, bool)
    bounds = windows(FRAMES, CHUNK, OVERLAP)
    for (_, e), (s, _) in zip(bounds, bounds[1:]):      # the overlaps: blended from s to e
        edges[max(s - 2, 0):e + 2] = True
    assert v[edges].max() <= v[~edges].max() + 0.005
    # Frame to frame, the chunked motion moves as the whole-take fit does at the seams.
    assert np.abs(v - v0)[edges].max() < 0.003, np.abs(v - v0)[edges].max()


def test_a_take_within_one_window_is_fitted_as_before(studio):
    anny, points, _ = studio
    short = Points3D(points.xyz[:20], points.conf[:20], points.joint_names, points.fps,
                     points.format)
    base = dataclasses.replace(Settings().fit, device="cpu", iteration_scale=0.1,
                               reprojection_weight=0.0)
    a = fit_points3d(short, dataclasses.replace(base, chunk_frames=0), anny)[0]
    b = fit_points3d(short, dataclasses.replace(base, chunk_frames=20, chunk_overlap_frames=5),
                     anny)[0]
    np.testing.assert_array_equal(a.body.poses, b.body.poses)
    np.testing.assert_array_equal(a.body.betas, b.body.betas)
    with pytest.raises(FitError, match="chunk_overlap_frames"):
        fit_points3d(short, dataclasses.replace(base, chunk_frames=10, chunk_overlap_frames=10),
                     anny)


def test_a_person_missing_for_a_whole_window_is_fitted_over_the_whole_take(studio, caplog):
    """Frames 30-70 hold the whole second window (30, 70): it cannot be fitted alone, so the
    take is fitted at once (before: FitError, no keypoint observed in that window)."""
    anny, points, _ = studio
    xyz, conf = points.xyz.copy(), points.conf.copy()
    xyz[30:70], conf[30:70] = np.nan, 0.0
    gone = dataclasses.replace(points, xyz=xyz, conf=conf)
    s = dataclasses.replace(Settings().fit, device="cpu", reprojection_weight=0.0,
                            chunk_frames=CHUNK, chunk_overlap_frames=OVERLAP)
    fit = fit_points3d(gone, s, anny)[0]
    assert "not seen for a whole window" in caplog.text
    assert fit.body.trans.shape[0] == FRAMES and np.isfinite(fit.body.trans).all()
    assert not fit.body.observed[30:70].any() and fit.body.observed[:30].all()
