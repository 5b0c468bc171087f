"""The fast OpenPose reader (msgspec, one scatter into the arrays, cameras in parallel
processes) gives what the plain ``json`` reading of every file gives, on studio takes."""
from __future__ import annotations

import json

import numpy as np
import pytest

from mocap.app.studio import write_session
from mocap.errors import DetectionsError
from mocap.io import openpose
from mocap.io.openpose import read_openpose_folder, read_openpose_folders


def reference_read(folder, num_joints: int) -> tuple[np.ndarray, np.ndarray]:
    """The old reading, written out: ``json.load`` per file, person by person, into
    (F, P, J, 2) and (F, P, J) (frames numbered 0.. in the file names, as the studio writes)."""
    files = sorted(folder.glob("*.json"))
    frames = [json.loads(p.read_text())["people"] for p in files]
    F, P = len(frames), max([1] + [len(people) for people in frames])
    xy = np.full((F, P, num_joints, 2), np.nan)
    conf = np.zeros((F, P, num_joints), np.float32)
    for f, people in enumerate(frames):
        for p, person in enumerate(people):
            arr = np.asarray(person["pose_keypoints_2d"], float).reshape(num_joints, 3)
            ok = arr[:, 2] > 0
            xy[f, p, ok] = arr[ok, :2]
            conf[f, p, ok] = np.clip(arr[ok, 2], 0, 1)
    return xy, conf


@pytest.fixture(scope="module")
def crowd_session(tmp_path_factory, studio4, crossing3):
    """3 people crossing, default detector (missing joints, outliers, frames without people)."""
    return write_session(tmp_path_factory.mktemp("crowd"), studio4, crossing3.take)


def test_fast_reader_equals_plain_json_on_a_crowd_take(crowd_session, studio4):
    for cam in studio4.names:
        xy, conf, numbers = read_openpose_folder(crowd_session / "pose" / cam, "body25")
        ref_xy, ref_conf = reference_read(crowd_session / "pose" / cam, 25)
        assert xy.shape == ref_xy.shape and conf.dtype == np.float32
        np.testing.assert_array_equal(xy, ref_xy)
        np.testing.assert_array_equal(conf, ref_conf)
        assert (numbers == np.arange(len(xy))).all()


def test_parallel_processes_give_the_serial_result(crowd_session, studio4, monkeypatch):
    folders = [crowd_session / "pose" / c for c in studio4.names]
    args = (folders, "body25", 120, 0, [c.size_wh for c in studio4], list(studio4.names))
    serial = read_openpose_folders(*args, workers=1)
    monkeypatch.setattr(openpose, "PARALLEL_MIN_FILES", 0)
    parallel = read_openpose_folders(*args, workers=2)
    for (a_xy, a_conf, a_n), (b_xy, b_conf, b_n) in zip(serial, parallel):
        np.testing.assert_array_equal(a_xy, b_xy)
        np.testing.assert_array_equal(a_conf, b_conf)
        np.testing.assert_array_equal(a_n, b_n)


def test_a_bad_file_is_named_from_a_worker_process(crowd_session, studio4, monkeypatch,
                                                   tmp_path):
    import shutil
    root = tmp_path / "s"
    shutil.copytree(crowd_session, root)
    bad = root / "pose" / "cam3" / "cam3_000000000007_keypoints.json"
    bad.write_text('{"people": [{"pose_keypoints_2d": [1, 2, "x"]}]}')
    folders = [root / "pose" / c for c in studio4.names]
    monkeypatch.setattr(openpose, "PARALLEL_MIN_FILES", 0)
    with pytest.raises(DetectionsError, match=r"cam3_000000000007_keypoints.json: person 0"):
        read_openpose_folders(folders, "body25", 120, 0, [c.size_wh for c in studio4],
                              list(studio4.names), workers=2)


def test_nan_literals_and_old_key_take_the_checked_path(tmp_path):
    """What the fast decoder refuses but ``json`` reads (NaN, ``pose_keypoints``) still reads."""
    kp = [10.0, 20.0, 0.9] * 25
    (tmp_path / "c_000000000000_keypoints.json").write_text(
        json.dumps({"people": [{"pose_keypoints": kp}]}))
    nan_kp = [float("nan"), 20.0, 0.9] + kp[3:]
    (tmp_path / "c_000000000001_keypoints.json").write_text(
        json.dumps({"people": [{"pose_keypoints_2d": nan_kp}]}))
    xy, conf, _ = read_openpose_folder(tmp_path, "body25")
    assert np.allclose(xy[0, 0], [10, 20]) and np.allclose(conf[0, 0], 0.9)
    assert np.isnan(xy[1, 0, 0]).all() and conf[1, 0, 0] == 0     # made missing, not 0
    assert np.allclose(xy[1, 0, 1:], [10, 20])
