"""RigArrays: a rig as batched arrays (numpy) or tensors (torch), its projection against the
cameras', and the bundle adjustment's parameter vectors packed from it."""

from __future__ import annotations

import numpy as np
import pytest

from calibration import Camera, Rig, RigArrays
from calibration.bundle import pack_camera, pack_cameras


@pytest.fixture
def mixed_rig(K, pinhole_dists, fisheye_dist) -> Rig:
    """A 4-coefficient, an 8-coefficient, a fisheye and a distortion-free camera."""
    lenses = [(pinhole_dists[4], "pinhole"), (pinhole_dists[8], "pinhole"),
              (fisheye_dist, "fisheye"), (np.zeros(0), "pinhole")]
    cams = []
    for i, (dist, model) in enumerate(lenses):
        a = 2 * np.pi * i / len(lenses)
        cams.append(Camera.look_at(f"c{i}", (1920, 1080), K, dist, (4 * np.cos(a), 4 * np.sin(a), 2.0),
                                   (0.0, 0.0, 1.0), model=model))
    return Rig(tuple(cams))


def test_arrays_hold_the_cameras(mixed_rig):
    a = mixed_rig.arrays()
    assert isinstance(a, RigArrays) and len(a) == 4
    shapes = dict(K=(4, 3, 3), dist=(4, 8), fisheye=(4,), R_cam_from_world=(4, 3, 3),
                  t_cam_from_world=(4, 3), rvec=(4, 3), centers=(4, 3), size_wh=(4, 2))
    for name, shape in shapes.items():
        arr = getattr(a, name)
        assert arr.shape == shape, name
        assert not arr.flags.writeable, name
    for c, cam in enumerate(mixed_rig):
        np.testing.assert_array_equal(a.dist[c, :cam.dist.size], cam.dist)
        assert not np.any(a.dist[c, cam.dist.size:])
        np.testing.assert_array_equal(a.rvec[c], cam.rvec)
        np.testing.assert_array_equal(a.centers[c], cam.center)
        assert tuple(a.size_wh[c]) == cam.size_wh
    np.testing.assert_array_equal(a.fisheye, [False, False, True, False])


def test_project_agrees_with_the_cameras(mixed_rig, scene_points):
    X = scene_points.reshape(20, 10, 3)
    X[0, 0] = np.nan
    xy, depth = mixed_rig.arrays().project(X)
    assert xy.shape == (4, 20, 10, 2) and depth.shape == (4, 20, 10)
    for c, cam in enumerate(mixed_rig):
        ref, ref_depth = cam.project(X, return_depth=True)
        np.testing.assert_allclose(xy[c], ref, rtol=0, atol=1e-9)
        np.testing.assert_allclose(depth[c], ref_depth, rtol=0, atol=1e-12)


def test_points_behind_a_camera_are_nan(mixed_rig):
    behind = 2 * mixed_rig[0].center - np.array([0.0, 0.0, 1.0])  # mirrored through camera 0
    xy, depth = mixed_rig.arrays().project(behind[None])
    assert depth[0, 0] < 0 and np.isnan(xy[0, 0]).all()
    np.testing.assert_array_equal(np.isnan(xy[:, 0, 0]), depth[:, 0] <= 0)


def test_to_torch_and_gradients(mixed_rig, scene_points):
    torch = pytest.importorskip("torch")
    a = mixed_rig.arrays()
    t = a.to("cpu")
    assert isinstance(t, RigArrays)
    assert t.K.dtype == torch.float64 and t.fisheye.dtype == torch.bool and t.size_wh.dtype == torch.int64
    assert t.to(dtype=torch.float32).dist.dtype == torch.float32
    X = torch.tensor(scene_points, requires_grad=True)
    xy, depth = t.project(X)
    ref, ref_depth = a.project(scene_points)
    np.testing.assert_allclose(xy.detach().numpy(), ref, rtol=0, atol=1e-9)
    np.testing.assert_allclose(depth.detach().numpy(), ref_depth, rtol=0, atol=1e-12)
    torch.nan_to_num(xy).sum().backward()
    assert torch.isfinite(X.grad).all() and X.grad.abs().sum() > 0


def test_lens_rows_broadcast(mixed_rig):
    a = mixed_rig.arrays()
    assert a.lens_coefficients(2).shape == (8, 4, 1, 1)
    assert a.fisheye_mask(2).shape == (4, 1, 1)


def test_bundle_parameters_come_from_the_arrays(mixed_rig):
    cams = [c for c in mixed_rig if c.dist.size <= 5]
    p = pack_cameras(Rig(tuple(cams)).arrays())
    np.testing.assert_array_equal(p, np.stack([pack_camera(c) for c in cams]))
