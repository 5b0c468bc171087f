"""Container files and OpenPose JSON round trips; session reading; settings errors."""
import json

import numpy as np
import pytest

from mocap.errors import DetectionsError, MocapError, SessionError, SettingsError
from mocap.io.openpose import read_openpose_folder, write_openpose_frame
from mocap.app.session import Session
from mocap.settings import Settings, load_settings
from mocap.app.studio import write_session
from mocap.types import Detections2D, Points3D


def test_detections_npz_round_trip(tmp_path, noisy_take):
    det = noisy_take.detections
    back = Detections2D.load(det.save(tmp_path / "d.npz"))
    assert back.camera_names == det.camera_names and back.format == det.format
    assert np.array_equal(back.xy, det.xy, equal_nan=True)
    assert np.array_equal(back.conf, det.conf)
    assert np.array_equal(back.heatmaps, det.heatmaps)
    assert back.fps == det.fps


def test_points3d_npz_round_trip(tmp_path, rng):
    xyz = rng.normal(size=(5, 2, 17, 3))
    xyz[1, 0, 3] = np.nan
    p = Points3D(xyz=xyz, conf=np.ones((5, 2, 17), np.float32), joint_names=[f"j{i}" for i in range(17)],
                 fps=60.0, format="coco17", views_used=np.ones((5, 2, 17, 4), bool),
                 reproj_err_px=np.zeros((5, 2, 17), np.float32), camera_names=list("abcd"))
    q = Points3D.load(p.save(tmp_path / "p.npz"))
    assert np.array_equal(q.xyz, p.xyz, equal_nan=True) and q.joint_names == p.joint_names
    assert q.camera_names == p.camera_names and (q.num_views == 4).all() and q.fps == 60.0


def test_shape_errors_name_the_field():
    with pytest.raises(MocapError, match=r"conf must have shape \(2, 3, 1, 25\), found \(2, 3, 25\)"):
        Detections2D(xy=np.zeros((2, 3, 1, 25, 2)), conf=np.zeros((2, 3, 25)), format="body25",
                     camera_names=["a", "b"], fps=30)


def test_openpose_round_trip(tmp_path, rng):
    xy = rng.uniform(0, 1000, (2, 25, 2))
    conf = rng.uniform(0.1, 1, (2, 25)).astype(np.float32)
    xy[1, 4] = np.nan
    conf[1, 4] = 0
    for f in (0, 1, 10):   # frame numbers sort numerically, not lexically
        write_openpose_frame(tmp_path / f"cam_{f}_keypoints.json", xy, conf)
    got_xy, got_conf, numbers = read_openpose_folder(tmp_path, "body25")
    assert list(numbers) == list(range(11))    # each file at the frame its name numbers
    assert np.allclose(got_xy[10], xy, atol=1e-4, equal_nan=True)
    assert np.allclose(got_conf[10], conf, atol=1e-4)
    assert np.isnan(got_xy[2:10]).all() and not got_conf[2:10].any()


def test_openpose_wrong_joint_count_names_file_and_format(tmp_path):
    (tmp_path / "x_000000000000_keypoints.json").write_text(
        json.dumps({"people": [{"pose_keypoints_2d": [0.0] * 54}]}))
    with pytest.raises(DetectionsError, match=r"x_000000000000_keypoints.json: person 0 has 18 "
                                              r"keypoints, format 'body25' expects 25"):
        read_openpose_folder(tmp_path, "body25")


def test_openpose_corrupt_file(tmp_path):
    (tmp_path / "a_000000000000_keypoints.json").write_text("{not json")
    with pytest.raises(DetectionsError, match="not a readable OpenPose JSON"):
        read_openpose_folder(tmp_path, "body25")


def test_session_reads_what_the_studio_writes(tmp_path, studio4, noisy_take):
    root = write_session(tmp_path / "s", studio4, noisy_take)
    s = Session(root)
    rig = s.rig()
    assert rig.names == studio4.names
    det = s.detections(rig, s.settings())
    ref = noisy_take.detections
    assert det.shape == ref.shape and det.fps == ref.fps
    assert np.allclose(det.xy, ref.xy, atol=1e-4, equal_nan=True)
    assert det.heatmaps is not None and det.heatmaps.shape == ref.heatmaps.shape


def test_session_missing_camera_folder(tmp_path, studio4, clean_take):
    root = write_session(tmp_path / "s", studio4, clean_take)
    (root / "pose" / "cam3").rename(root / "pose" / "camera3")
    with pytest.raises(SessionError, match="no folder for camera 'cam3'"):
        Session(root).detections(studio4, Settings())


def test_session_without_calibration(tmp_path):
    with pytest.raises(SessionError, match="no calibration.toml"):
        Session(tmp_path).rig()


def test_settings_unknown_key_suggests_the_right_one(tmp_path):
    p = tmp_path / "session.toml"
    p.write_text("[filter]\ncutof_hz = 5\n")
    with pytest.raises(SettingsError, match=r"unknown key 'cutof_hz' \(did you mean 'cutoff_hz'\?\)"):
        load_settings(p)
    p.write_text("[triangle]\nx = 1\n")
    with pytest.raises(SettingsError, match=r"unknown table \[triangle\] \(did you mean 'triangulate'\?\)"):
        load_settings(p)
    p.write_text("[take]\nfps = 'fast'\n")
    with pytest.raises(SettingsError, match=r"\[take\].fps: expected float, found str"):
        load_settings(p)


def test_settings_defaults_and_values(tmp_path):
    p = tmp_path / "session.toml"
    p.write_text("[take]\nfps = 60\n[detect]\nformat = 'coco17'\n[simulate]\nanything = 1\n")
    s = load_settings(p)
    assert s.take.fps == 60.0 and s.detect.format == "coco17"
    assert s.filter == Settings().filter
