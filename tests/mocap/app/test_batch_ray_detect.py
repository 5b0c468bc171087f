"""`mocap batch --ray`: cameras that need detection become Ray tasks of their own, and the
session's run then finds them up to date; the outputs equal running sessions one by one."""
from __future__ import annotations

import logging
import shutil

import cv2
import numpy as np
import pytest
import tomli_w

from calibration import Camera, Rig
from mocap.app.batch import camera_detection_jobs, run_batch
from mocap.app.pipeline import run
from mocap.simulate.rigs import intrinsics_from_hfov
from test_detect_onnx import HeatmapNet, _export, blob_frame   # the tiny blob "detector"

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow

SIZE = (160, 120)


def _rig() -> Rig:
    K = intrinsics_from_hfov(SIZE, 70.0)
    return Rig((Camera.look_at("a", SIZE, K, [0.0] * 5, (3.0, -0.4, 1.4), (0, 0, 1.0)),
                Camera.look_at("b", SIZE, K, [0.0] * 5, (0.3, 3.0, 1.2), (0, 0, 1.0))))


def _session(folder, rig, model, seed):
    """Three blobs (joints k % 3 of the blob model) moving in 3D, filmed as PNG folders."""
    rng = np.random.default_rng(seed)
    X = np.array([[0.0, 0.0, 1.0], [0.2, 0.1, 1.3], [-0.1, 0.2, 0.8]])
    X = X + np.cumsum(rng.normal(0, 0.01, (6, 3, 3)), axis=0)
    for c, cam in enumerate(rig):
        d = folder / "videos" / cam.name
        d.mkdir(parents=True)
        for f, pts in enumerate(cam.project(X)):
            rgb = blob_frame(pts, *SIZE)
            cv2.imwrite(str(d / f"{f:03d}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    rig.save(folder / "calibration.toml")
    doc = {"take": {"fps": 25.0},
           "detect": {"backend": "onnx", "model": str(model), "person_boxes": "full",
                      "model_format": "coco17", "model_mean_rgb": [0, 0, 0],
                      "model_std_rgb": [255, 255, 255], "workers": 1},
           "sync": {"enabled": False}, "associate": {"mode": "off"},
           "filter": {"bone_lengths": False}, "fit": {"enabled": False},
           "export": {"formats": ["trc"]}}
    (folder / "session.toml").write_text(tomli_w.dumps(doc))
    return folder


def test_ray_runs_each_camera_as_a_task(tmp_path, caplog):
    model = _export(HeatmapNet().eval(), tmp_path / "blobs.onnx")
    rig = _rig()
    sessions = [_session(tmp_path / "ray" / f"s{i}", rig, model, i) for i in range(2)]
    alone = [shutil.copytree(s, tmp_path / "alone" / s.name) for s in sessions]
    assert [len(camera_detection_jobs(s)) for s in sessions] == [2, 2]

    caplog.set_level(logging.INFO, logger="mocap.app.batch")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING",
             log_to_driver=False)
    try:
        results = run_batch(sessions, ray_address="auto")
    finally:
        ray.shutdown()
    assert all(r.ok for r in results), [r.error for r in results]
    assert sum("2 cameras to detect, one Ray task each" in r.message
               for r in caplog.records) == 2
    for s, a in zip(sessions, alone):
        assert camera_detection_jobs(s) == []              # every camera done by its task
        run(a)                                             # the same session, one by one
        for name in ("points3d_raw.npz", "points3d.npz", "detections.npz"):
            with np.load(s / "out" / name) as x, np.load(a / "out" / name) as y:
                for k in x.files:
                    assert np.array_equal(x[k], y[k]), (s.name, name, k)
        with np.load(s / "out" / "points3d_raw.npz") as p:
            assert np.isfinite(p["xyz"]).all(-1).mean() > 0.9   # the blobs triangulate
