"""Exact DLT recovery, the pipeline and the CLI end to end."""
import subprocess
import sys

import numpy as np
import pytest

from calibration import Rig
from mocap.app.cli import main
from mocap.evaluate import mpjpe_mm
from mocap.app.pipeline import run
from mocap.app.studio import write_session
from mocap.simulate import Actor, ErrorModel, load_rig_template, simulate_take
from mocap.triangulate import dlt_weighted, triangulate
from mocap.types import Points3D
from exporters import forward_kinematics, read_bvh


def test_dlt_recovers_noise_free_points_exactly(studio4, rng):
    X = rng.uniform([-1, -1, 0], [1, 1, 2], (500, 3))
    uv = studio4.project(X)                                       # (C, N, 2), distorted
    xy_n = np.stack([cam.undistort_points(uv[c]) for c, cam in enumerate(studio4)], 1)
    Rt = np.stack([np.hstack([c.R_cam_from_world, c.t_cam_from_world[:, None]]) for c in studio4])
    w = rng.uniform(0.2, 1.0, (500, len(studio4)))
    got = dlt_weighted(Rt, xy_n, w)
    assert np.abs(got - X).max() < 1e-7


def test_dlt_needs_two_views(studio4, rng):
    X = rng.uniform(-1, 1, (10, 3)) + [0, 0, 1]
    uv = studio4.project(X)
    xy_n = np.stack([cam.undistort_points(uv[c]) for c, cam in enumerate(studio4)], 1)
    Rt = np.stack([np.hstack([c.R_cam_from_world, c.t_cam_from_world[:, None]]) for c in studio4])
    w = np.zeros((10, 4))
    w[:, 0] = 1
    assert np.isnan(dlt_weighted(Rt, xy_n, w)).all()


def test_triangulate_clean_take_is_exact(studio4, clean_take):
    p = triangulate(clean_take.detections, studio4)
    assert mpjpe_mm(p.xyz, clean_take.gt_xyz) < 1e-3
    assert np.isfinite(p.xyz).all(-1).mean() > 0.95
    assert np.nanmax(p.reproj_err_px) < 1e-4


def test_triangulate_noisy_take_rejects_outliers(studio4, noisy_take):
    p = triangulate(noisy_take.detections, studio4)
    assert mpjpe_mm(p.xyz, noisy_take.gt_xyz) < 20.0


def test_pipeline_writes_points_bvh_and_manifest(tmp_path, studio4, noisy_take):
    root = write_session(tmp_path / "s", studio4, noisy_take,
                         settings={"fit": {"enabled": False}, "export": {"formats": ["bvh"]}})
    manifest = run(root)
    out = root / "out"
    pts = Points3D.load(out / "points3d.npz")
    assert pts.xyz.shape == noisy_take.gt_xyz.shape
    assert mpjpe_mm(pts.xyz, noisy_take.gt_xyz) < 15.0
    assert (out / "manifest.json").is_file()
    bvh = out / manifest["people"][0]["bvh"]
    skel, motion = read_bvh(bvh, up="y", units="m")
    assert motion.num_frames == 90 and motion.fps == pytest.approx(30.0)
    pos, _ = forward_kinematics(skel, motion.rotations, motion.root_translation)
    # the BVH follows the filtered keypoints (branching joints are least squares)
    from mocap.keypoints import get_format
    fmt = get_format("body25")
    names, _ = fmt.tree
    ref = fmt.tree_positions(pts.xyz[:, 0])
    assert set(skel.joint_names) == set(names)
    order = [names.index(n) for n in skel.joint_names]
    err = np.linalg.norm(pos - ref[:, order], axis=-1)
    assert np.nanmedian(err) < 0.02


def test_cli_demo_end_to_end(tmp_path, capsys):
    rc = main(["demo", "--out", str(tmp_path / "demo"), "--frames", "45", "--no-heatmaps"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "MPJPE" in out and "mm" in out and "person0.bvh" in out


def test_cli_user_error_is_one_line(tmp_path):
    res = subprocess.run([sys.executable, "-m", "mocap.app.cli", "run", str(tmp_path / "nope")],
                         capture_output=True, text=True)
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and "session folder not found" in res.stderr
    assert "Traceback" not in res.stderr


def test_cli_help_for_every_command():
    res = subprocess.run([sys.executable, "-m", "mocap.app.cli", "--help"], capture_output=True,
                         text=True)
    assert res.returncode == 0 and "demo" in res.stdout
    for cmd in ("demo", "run", "simulate", "triangulate"):
        r = subprocess.run([sys.executable, "-m", "mocap.app.cli", cmd, "--help"],
                           capture_output=True, text=True)
        assert r.returncode == 0 and len(r.stdout) > 100


def test_simulator_calibration_loads_in_aniposelib(tmp_path, studio4, rng):
    from aniposelib.cameras import CameraGroup
    import cv2
    studio4.save(tmp_path / "calibration.toml")
    group = CameraGroup.load(str(tmp_path / "calibration.toml"))
    X = rng.uniform([-1, -1, 0], [1, 1, 2], (50, 3))
    ours = Rig.load(tmp_path / "calibration.toml").project(X)
    theirs = group.project(X)
    assert np.abs(ours - theirs).max() < 1e-6
    for c, cam in enumerate(studio4):
        cv, _ = cv2.projectPoints(X, cam.rvec, cam.t_cam_from_world, cam.K, cam.dist)
        assert np.abs(cv[:, 0] - ours[c]).max() < 1e-6
