"""The rendered studio's pure parts (no Blender): the inverse lens map against OpenCV's
projection, the render camera's coverage, the OpenCV -> Blender camera conversion, the
clothing of the body mesh and the one-line error without Blender."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from calibration import Camera
from mocap.errors import BlenderMissingError
from mocap.simulate import load_rig_template
from mocap.simulate.render import (blender_camera, blender_python, face_parts, lens_maps,
                                   render_camera, scale_rig, vertex_parts)


def _bilinear(m: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Bilinear sample of map m (H, W) at pixel coordinates xy (N, 2), as cv2.remap reads."""
    x0, y0 = np.floor(xy[:, 0]).astype(int), np.floor(xy[:, 1]).astype(int)
    ax, ay = xy[:, 0] - x0, xy[:, 1] - y0
    m = m.astype(float)
    return ((1 - ay) * ((1 - ax) * m[y0, x0] + ax * m[y0, x0 + 1])
            + ay * ((1 - ax) * m[y0 + 1, x0] + ax * m[y0 + 1, x0 + 1]))


@pytest.mark.parametrize("model", ["pinhole", "fisheye"])
def test_inverse_map_sends_opencv_projections_to_the_pinhole_render(model):
    """A world point projected by cv2.projectPoints (lens included) is read, through the
    map, from where the undistorted render camera shows it (within 2e-3 px)."""
    cam = scale_rig(load_rig_template("studio4"), 320)["cam2"]
    if model == "fisheye":
        cam = Camera(cam.name, cam.size_wh, cam.K, [-0.02, 0.004, -0.001, 0.0],
                     cam.R_cam_from_world, cam.t_cam_from_world, "fisheye")
    K_r, size_r = render_camera(cam)
    mx, my = lens_maps(cam, K_r)
    rng = np.random.default_rng(3)
    W, H = cam.size_wh
    target = np.column_stack([rng.uniform(2, W - 3, 400), rng.uniform(2, H - 3, 400)])
    # world points on the rays of those pixels, then projected by OpenCV itself
    from calibration.lens import undistort
    xy_n = undistort((target - cam.K[:2, 2]) / np.diag(cam.K)[:2], cam.dist, cam.model)
    X_cam = np.column_stack([xy_n * 3.0, np.full(len(xy_n), 3.0)])
    X = (X_cam - cam.t_cam_from_world) @ cam.R_cam_from_world
    rvec = cv2.Rodrigues(cam.R_cam_from_world)[0]
    if model == "fisheye":
        px = cv2.fisheye.projectPoints(X[:, None], rvec, cam.t_cam_from_world, cam.K,
                                       cam.dist)[0][:, 0]
    else:
        px = cv2.projectPoints(X, rvec, cam.t_cam_from_world, cam.K, cam.dist)[0][:, 0]
    expected = X_cam[:, :2] / X_cam[:, 2:] * K_r[0, 0] + K_r[:2, 2]
    got = np.column_stack([_bilinear(mx, px), _bilinear(my, px)])
    assert np.abs(got - expected).max() < 2e-3
    # every pixel of the real image reads inside the render
    assert mx.min() >= 0 and my.min() >= 0
    assert mx.max() <= size_r[0] - 1 and my.max() <= size_r[1] - 1


def test_blender_camera_states_the_half_pixel_centre():
    """Centred principal point ((W-1)/2, (H-1)/2): no shift; one pixel right: shift_x is
    -1/max(W, H); the camera sits at its centre looking down the OpenCV z axis."""
    R = cv2.Rodrigues(np.array([0.3, -0.2, 0.1]))[0]
    t = np.array([0.1, 0.2, 3.0])
    K = np.array([[200.0, 0, 159.5], [0, 200.0, 89.5], [0, 0, 1]])
    spec = blender_camera("c", K, R, t, (320, 180))
    assert spec["shift_x"] == 0 and spec["shift_y"] == 0
    assert spec["lens_mm"] / spec["sensor_width_mm"] == pytest.approx(200 / 320)
    K2 = K.copy()
    K2[0, 2] += 1
    K2[1, 2] += 2
    s2 = blender_camera("c", K2, R, t, (320, 180))
    assert s2["shift_x"] == pytest.approx(-1 / 320) and s2["shift_y"] == pytest.approx(2 / 320)
    M = np.array(spec["matrix_world"])
    np.testing.assert_allclose(M[:3, 3], -R.T @ t)
    np.testing.assert_allclose(-M[:3, 2], R[2])                 # Blender looks down -z
    np.testing.assert_allclose(-M[:3, 1], R[1])                 # Blender's y is up


def test_clothes_cover_the_body_model():
    from mocap.body.anny_model import load_anny
    m = load_anny()
    vp = vertex_parts(m.joint_names, m.weights.numpy())
    fp = face_parts(m.faces, vp)
    counts = np.bincount(fp, minlength=4)
    assert (counts > 500).all(), counts                      # skin, shirt, trousers, shoes
    z = m.template.numpy()[:, 2]
    assert z[vp == 3].max() < z[vp == 2].mean() < z[vp == 1].mean()   # shoes < trousers < shirt


def test_missing_blender_is_one_line(monkeypatch):
    monkeypatch.setenv("MOCAP_BLENDER_PYTHON", "/nonexistent/python")
    with pytest.raises(BlenderMissingError, match="make setup-blender") as exc:
        blender_python()
    assert "\n" not in str(exc.value)


def test_simulate_render_without_blender_says_how_to_set_it_up(monkeypatch, tmp_path, capsys):
    from mocap.app.cli import main
    monkeypatch.setenv("MOCAP_BLENDER_PYTHON", str(tmp_path / "no-python"))
    assert main(["simulate", str(tmp_path / "s"), "--render", "--frames", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "make setup-blender" in err[0], err
    assert not (tmp_path / "s" / "videos").exists()


def test_studio_day_needs_render(tmp_path, capsys):
    from mocap.app.cli import main
    assert main(["simulate", str(tmp_path / "s"), "--studio-day", "10"]) == 2
    assert "--studio-day: expected --render" in capsys.readouterr().err


def test_render_fingerprint_covers_arrays_and_job_but_not_paths():
    from mocap.simulate.render import render_fingerprint
    a = {"verts_0": np.zeros((2, 3, 3), np.float32)}
    job = {"engine": "workbench", "frames": [0, 1], "out": "/x", "arrays": "/y"}
    base = render_fingerprint(a, job)
    assert render_fingerprint(a, dict(job, out="/elsewhere", arrays="/z")) == base
    assert render_fingerprint(a, dict(job, engine="cycles")) != base
    b = {"verts_0": a["verts_0"].copy()}
    b["verts_0"][1, 2, 0] = 1e-3
    assert render_fingerprint(b, job) != base
