"""Algebraic triangulation: exactness, lens model, numpy/torch agreement, gradcheck,
degenerate geometry flagged, typed errors."""
import numpy as np
import pytest
import torch

from calibration import Camera, Rig
from calibration.lens import distort, distort_normalized
from mocap.errors import SettingsError, TriangulationError
from mocap.evaluate import mpjpe_mm
from mocap.settings import TriangulateSettings
from mocap.triangulate import (FLAG_BEHIND_CAMERA, FLAG_FEW_VIEWS, FLAG_PARALLEL_RAYS,
                               dlt_weighted, triangulate, triangulate_points,
                               undistort_detections)


def _points(rng, n):
    return rng.uniform([-0.8, -0.8, 0.0], [0.8, 0.8, 1.9], (n, 3))


def _observe(rig, X):
    return np.moveaxis(rig.project(X), 0, 1)                      # (N, C, 2)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("selection", ["all", "robust"])
def test_noise_free_points_are_exact(studio4, rng, backend, selection):
    X = _points(rng, 3000)
    conf = rng.uniform(0.3, 1.0, (len(X), len(studio4)))
    r = triangulate_points(studio4, _observe(studio4, X), conf,
                           TriangulateSettings(backend=backend, view_selection=selection))
    assert np.abs(r.xyz - X).max() < 1e-8
    assert r.used.all() and (r.flags == 0).all()
    assert np.nanmax(r.mean_err_px) < 1e-5


def test_clean_take_is_exact_and_reports_views(studio4, clean_take):
    p = triangulate(clean_take.detections, studio4)
    assert mpjpe_mm(p.xyz, clean_take.gt_xyz) < 1e-4
    seen = (clean_take.detections.conf >= 0.2).sum(0)             # (F, P, J)
    np.testing.assert_array_equal(p.views_used.sum(-1)[seen >= 2], seen[seen >= 2])
    assert np.nanmax(p.reproj_err_px) < 1e-4


@pytest.mark.parametrize("model,dist", [("pinhole", [-0.2, 0.05, 0.001, -0.002, 0.01]),
                                         ("pinhole", [-0.1, 0.02, 0, 0, 0.001, 0.05, 0.01, 0.002]),
                                         ("fisheye", [0.05, -0.01, 0.002, -0.0005])])
def test_lens_model_matches_calibration_and_inverts(rng, model, dist):
    xy = rng.uniform(-0.6, 0.6, (500, 2))
    xd, yd, *jac = distort(xy[:, 0], xy[:, 1], np.array(dist), fisheye=model == "fisheye",
                           jacobian=True)
    np.testing.assert_allclose(np.stack([xd, yd], -1), distort_normalized(xy, dist, model),
                               atol=1e-14)
    h = 1e-6                                                      # Jacobian by differences
    fx = distort_normalized(xy + [h, 0], dist, model)
    np.testing.assert_allclose(jac[0], (fx[:, 0] - xd) / h, atol=1e-5)
    np.testing.assert_allclose(jac[2], (fx[:, 1] - yd) / h, atol=1e-5)
    K = np.array([[1400.0, 0, 960], [0, 1400, 540], [0, 0, 1]])
    cam = Camera.look_at("c", (1920, 1080), K, dist, [3, 0, 1], [0, 0, 1], model=model)
    X = rng.uniform([-0.5, -0.5, 0.5], [0.5, 0.5, 1.5], (400, 3))
    uv = cam.project(X)
    xy_n, J = undistort_detections(Rig((cam, cam.replace(name="d"))), np.stack([uv, uv], 1))
    Xc = cam.world_to_cam(X)
    np.testing.assert_allclose(xy_n[:, 0], Xc[:, :2] / Xc[:, 2:], atol=1e-11)


def test_batched_undistortion_is_exact_everywhere(rng):
    """The batched lookup + Newton undistortion against the calibration's exact inverse, on a
    mixed rig (strong wide-angle lens, no lens, fisheye), over the whole image
    and beyond its edges (the exact fallback), with missing points kept NaN."""
    size = (1920, 1080)
    K = np.array([[1000.0, 0, 950], [0, 1000, 545], [0, 0, 1]])
    cams = (Camera.look_at("wide", size, K, [-0.3, 0.09, 0.001, -0.0005, -0.012], [3, 0, 1], [0, 0, 1]),
            Camera.look_at("plain", size, K, np.zeros(5), [0, 3, 1], [0, 0, 1]),
            Camera.look_at("fish", size, K, [0.05, -0.01, 0.002, -0.0005], [-3, 0, 1], [0, 0, 1],
                           model="fisheye"),
            Camera.look_at("mild", size, K, [-0.08, 0.03, 0, 0, 0], [0, -3, 1], [0, 0, 1]))
    uv = rng.uniform([-150, -150], [2070, 1230], (3000, 4, 2))   # beyond the edges too
    uv[::7, 1] = np.nan
    uv[::11, 3, 0] = np.nan
    xy_n, J = undistort_detections(Rig(cams), uv)
    for c, cam in enumerate(cams):
        exact = cam.undistort_points(uv[:, c])
        np.testing.assert_array_equal(np.isnan(xy_n[:, c, 0]), np.isnan(exact[:, 0]))
        ok = np.isfinite(exact[:, 0])
        assert ok.mean() > 0.8
        np.testing.assert_allclose(xy_n[ok, c], exact[ok], atol=1e-10, err_msg=cam.name)
        # The Jacobian maps a small normalised step to its pixel step.
        h = 1e-7
        px = lambda xy: distort_normalized(xy, cam.dist, cam.model) @ K[:2, :2].T  # noqa: E731
        np.testing.assert_allclose(J[ok, c, :, 0], (px(exact[ok] + [h, 0]) - px(exact[ok])) / h,
                                   rtol=1e-4, atol=1e-2)


def test_certified_lens_maps_take_one_newton_step_and_stay_exact(rng):
    """Lenses whose lookup is close enough everywhere (mild pinholes) are certified and take the
    short path (one Newton step, no per-point tests) when every point is on the grid; it is
    as exact as the general path, keeps missing points NaN, and a strong wide-angle lens is
    not certified."""
    from mocap.triangulate.undistort import _camera_map
    size = (1920, 1080)
    K = np.array([[1400.0, 0, 955], [0, 1400, 545], [0, 0, 1]])
    mild = Camera.look_at("mild", size, K, [-0.08, 0.03, 0.001, -0.0005, 0.002], [3, 0, 1],
                          [0, 0, 1])
    plain = Camera.look_at("plain", size, K, [-0.05, 0.01, 0, 0, 0], [0, 3, 1], [0, 0, 1])
    wide = Camera.look_at("wide", size, K / [[1.4], [1.4], [1]] * [[1], [1], [1]],
                          [-0.3, 0.09, 0.001, -0.0005, -0.012], [-3, 0, 1], [0, 0, 1])
    assert _camera_map(mild).certified and _camera_map(plain).certified
    assert not _camera_map(wide).certified
    uv = rng.uniform([0, 0], [1919, 1079], (5000, 2, 2))           # all inside the image
    uv[::9, 0] = np.nan
    xy_n, J = undistort_detections(Rig((mild, plain)), uv)
    for c, cam in enumerate((mild, plain)):
        exact = cam.undistort_points(uv[:, c])
        np.testing.assert_array_equal(np.isnan(xy_n[:, c, 0]), np.isnan(exact[:, 0]))
        ok = np.isfinite(exact[:, 0])
        np.testing.assert_allclose(xy_n[ok, c], exact[ok], atol=1e-11, err_msg=cam.name)
        _, _, *jac = distort(exact[ok, 0], exact[ok, 1], cam.dist,
                             fisheye=cam.model == "fisheye", jacobian=True)
        np.testing.assert_allclose(J[ok, c, 0, 0], K[0, 0] * jac[0], rtol=1e-6)


def test_torch_dlt_matches_numpy_and_passes_gradcheck(studio4, rng):
    X = _points(rng, 6)
    xy_n = np.stack([c.world_to_cam(X)[:, :2] / c.world_to_cam(X)[:, 2:] for c in studio4], 1)
    Rt = np.stack([np.hstack([c.R_cam_from_world, c.t_cam_from_world[:, None]]) for c in studio4])
    w = rng.uniform(0.3, 1, xy_n.shape[:2])
    ref = dlt_weighted(Rt, xy_n + 1e-3 * rng.standard_normal(xy_n.shape), w)
    t = lambda a: torch.tensor(a, dtype=torch.float64, requires_grad=True)  # noqa: E731
    xt, wt, Rtt = t(xy_n), t(w), torch.tensor(Rt)
    got = dlt_weighted(Rtt, xt + 0, wt)
    np.testing.assert_allclose(got.detach().numpy(), dlt_weighted(Rt, xy_n, w), atol=1e-10)
    assert np.isfinite(ref).all()
    assert torch.autograd.gradcheck(lambda a, b: dlt_weighted(Rtt, a, b), (xt, wt))


def test_dlt_with_one_view_is_nan(studio4, rng):
    X = _points(rng, 5)
    xy_n = np.stack([c.world_to_cam(X)[:, :2] / c.world_to_cam(X)[:, 2:] for c in studio4], 1)
    Rt = np.stack([np.hstack([c.R_cam_from_world, c.t_cam_from_world[:, None]]) for c in studio4])
    w = np.zeros((5, 4))
    w[:, 2] = 1
    assert np.isnan(dlt_weighted(Rt, xy_n, w)).all()


def _cam(name, eye, target=(0, 0, 1)):
    K = np.array([[1200.0, 0, 960], [0, 1200, 540], [0, 0, 1]])
    return Camera.look_at(name, (1920, 1080), K, [0.0] * 5, eye, target)


def test_coincident_cameras_are_flagged_not_garbage(rng):
    rig = Rig((_cam("a", [3, 0, 1.5]), _cam("b", [3, 0, 1.5], (0, 0.3, 1))))
    X = rng.uniform([-0.3, -0.3, 0.8], [0.3, 0.3, 1.2], (50, 3))
    uv = _observe(rig, X) + rng.normal(0, 0.5, (50, 2, 2))
    r = triangulate_points(rig, uv, np.ones((50, 2)))
    assert np.isnan(r.xyz).all()
    assert (r.flags & FLAG_PARALLEL_RAYS).all()
    assert not r.used.any()


def test_point_on_the_baseline_of_collinear_cameras_is_flagged(rng):
    eyes = [[-4, 0, 1], [-3, 0, 1], [3, 0, 1]]
    rig = Rig(tuple(_cam(f"c{i}", e, (0, 0.5, 1)) for i, e in enumerate(eyes)))
    on_line = np.array([[0.0, 0.0, 1.0], [0.5, 0.0, 1.0]])
    off_line = np.array([[0.0, 0.8, 1.3]])
    X = np.concatenate([on_line, off_line])
    r = triangulate_points(rig, _observe(rig, X), np.ones((3, 3)),
                           TriangulateSettings(view_selection="all"))
    assert np.isnan(r.xyz[:2]).all() and (r.flags[:2] & FLAG_PARALLEL_RAYS).all()
    assert np.abs(r.xyz[2] - off_line[0]).max() < 1e-8 and r.flags[2] == 0


def test_point_behind_the_cameras_is_flagged(rng):
    # Two cameras looking the same way; the rays of "detections" meet behind them.
    rig = Rig((_cam("a", [3, -0.5, 1], (0, -0.5, 1)), _cam("b", [3, 0.5, 1], (0, 0.5, 1))))
    behind = np.array([[5.0, 0.0, 1.0]])                       # behind both image planes
    uv = np.stack([cam.K @ (cam.world_to_cam(behind)[0] / cam.world_to_cam(behind)[0, 2])
                   for cam in rig])[None, :, :2]
    r = triangulate_points(rig, uv, np.ones((1, 2)))
    assert np.isnan(r.xyz).all()
    assert r.flags[0] & (FLAG_BEHIND_CAMERA | FLAG_PARALLEL_RAYS)
    assert not r.used.any()


def test_single_view_is_missing_with_zero_views(studio4, rng):
    X = _points(rng, 4)
    conf = np.zeros((4, 4))
    conf[:, 1] = 1
    r = triangulate_points(studio4, _observe(studio4, X), conf)
    assert np.isnan(r.xyz).all() and (r.flags == FLAG_FEW_VIEWS).all() and not r.used.any()


def test_bad_inputs_raise_typed_errors(studio4, clean_take):
    with pytest.raises(TriangulationError, match=r"expected \(N, 4, 2\)"):
        triangulate_points(studio4, np.zeros((5, 3, 2)), np.ones((5, 3)))
    with pytest.raises(SettingsError, match="view_selection"):  # when the settings are built
        TriangulateSettings(view_selection="best")
    with pytest.raises(TriangulationError, match="same cameras in the same order"):
        triangulate(clean_take.detections, studio4.subset(["cam2", "cam1", "cam3", "cam4"]))
    with pytest.raises(TriangulationError, match="needs heatmaps"):
        triangulate(clean_take.detections, studio4, TriangulateSettings(method="volumetric"))
