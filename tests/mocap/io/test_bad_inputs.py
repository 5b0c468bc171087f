"""The bad inputs a user hits with 2D keypoint files: nothing silently wrong.

Frames placed by the number in their file names (gaps stay missing frames), pose folders no
calibration camera owns, strings where numbers belong, and absurd coordinates.
"""
from __future__ import annotations

import json
import logging
import shutil

import numpy as np
import pytest

from mocap.app.detections import session_detections
from mocap.app.session import Session
from mocap.app.studio import write_session
from mocap.errors import DetectionsError, SessionError
from mocap.io.importers import import_cameras, read_coco_results, read_dlc, write_coco_results, \
    write_dlc_csv
from mocap.io.openpose import guess_openpose_format, read_openpose_folder, write_openpose_frame
from mocap.settings import Settings


def _frame_file(folder, name, f):
    return folder / f"{name}_{f:012d}_keypoints.json"


# --- 1. frames by their numbers -------------------------------------------------------------

def test_gap_in_one_camera_keeps_later_frames_in_place(tmp_path, studio4, clean_take, caplog):
    root = write_session(tmp_path / "s", studio4, clean_take)
    cam2 = root / "pose" / "cam2"
    for f in range(20, 30):                        # ten files missing in the middle
        _frame_file(cam2, "cam2", f).unlink()
    for f in range(5):                             # cam1 starts five frames late
        _frame_file(root / "pose" / "cam1", "cam1", f).unlink()
    s = Session(root)
    with caplog.at_level(logging.INFO):
        det = session_detections(s, s.rig(), s.settings())
    ref = clean_take.detections
    assert det.num_frames == 60                    # not cut to the shortest camera
    assert np.isnan(det.xy[1, 20:30]).all() and not det.conf[1, 20:30].any()
    assert np.allclose(det.xy[1, 30:], ref.xy[1, 30:], atol=1e-3, equal_nan=True)
    assert np.isnan(det.xy[0, :5]).all() and not det.conf[0, :5].any()
    assert np.allclose(det.xy[0, 5:], ref.xy[0, 5:], atol=1e-3, equal_nan=True)
    assert np.allclose(det.xy[2:], ref.xy[2:], atol=1e-3, equal_nan=True)
    assert "cam2: frames 0..59, 10 missing" in caplog.text
    assert "cam1: frames 5..59, 5 missing" in caplog.text


def test_all_cameras_start_late_frames_from_the_first_number(tmp_path, studio4, clean_take):
    root = write_session(tmp_path / "s", studio4, clean_take)
    for name in studio4.names:                     # every camera starts at frame 3
        for f in range(3):
            _frame_file(root / "pose" / name, name, f).unlink()
    s = Session(root)
    det = s.detections(s.rig(), s.settings())
    assert det.num_frames == 57
    assert np.allclose(det.xy, clean_take.detections.xy[:, 3:], atol=1e-3, equal_nan=True)


def test_read_openpose_folder_places_frames_by_number(tmp_path, rng):
    xy = rng.uniform(0, 1000, (1, 25, 2))
    conf = np.full((1, 25), 0.5, np.float32)
    for f in (3, 4, 7):
        write_openpose_frame(_frame_file(tmp_path, "c", f), xy + f, conf)
    got_xy, got_conf, numbers = read_openpose_folder(tmp_path, "body25")
    assert list(numbers) == [3, 4, 5, 6, 7]
    assert np.allclose(got_xy[4], xy + 7, atol=1e-3)
    assert np.isnan(got_xy[2:4]).all() and not got_conf[2:4].any()
    got_xy, _, numbers = read_openpose_folder(tmp_path, "body25", num_frames=10, first_frame=0)
    assert list(numbers) == list(range(10)) and np.allclose(got_xy[3], xy + 3, atol=1e-3)
    assert np.isnan(got_xy[8:]).all()


def test_file_names_without_numbers(tmp_path, rng):
    xy = rng.uniform(0, 1000, (1, 25, 2))
    conf = np.full((1, 25), 0.5, np.float32)
    write_openpose_frame(tmp_path / "c_000000000000_keypoints.json", xy, conf)
    write_openpose_frame(tmp_path / "c_last_keypoints.json", xy, conf)
    with pytest.raises(DetectionsError, match=r"c_last_keypoints.json: expected a frame number"):
        read_openpose_folder(tmp_path, "body25")
    (tmp_path / "c_000000000000_keypoints.json").unlink()
    write_openpose_frame(tmp_path / "b_first_keypoints.json", xy + 1, conf)
    got_xy, _, numbers = read_openpose_folder(tmp_path, "body25")   # no number at all: name order
    assert list(numbers) == [0, 1] and np.allclose(got_xy[0], xy + 1, atol=1e-3)


def test_coco_cameras_of_different_lengths_are_padded_not_cut(tmp_path, rng, caplog):
    xy = rng.uniform(0, 1000, (10, 1, 17, 2))
    conf = np.full((10, 1, 17), 0.9, np.float32)
    a = write_coco_results(tmp_path / "a.json", xy, conf)
    b = write_coco_results(tmp_path / "b.json", xy[:6], conf[:6])     # nobody after frame 5
    with caplog.at_level(logging.INFO):
        det = import_cameras([a, b], ("a", "b"), "coco17", 30.0)
    assert det.num_frames == 10
    assert np.allclose(det.xy[0], xy, atol=1e-3) and np.isnan(det.xy[1, 6:]).all()
    assert "b: frames 0..5" in caplog.text


# --- 2. pose folders no calibration camera owns ----------------------------------------------

def test_pose_folder_of_no_calibration_camera_warns(tmp_path, studio4, clean_take, caplog):
    root = write_session(tmp_path / "s", studio4, clean_take)
    shutil.copytree(root / "pose" / "cam1", root / "pose" / "cam9")
    s = Session(root)
    with caplog.at_level(logging.WARNING):
        det = session_detections(s, s.rig(), s.settings())
    assert det.xy.shape[0] == 4
    assert "cam9" in caplog.text and "cam1, cam2, cam3, cam4" in caplog.text


def test_no_pose_folder_matches_any_camera(tmp_path, studio4, clean_take):
    root = write_session(tmp_path / "s", studio4, clean_take)
    for c, name in enumerate(studio4.names):
        (root / "pose" / name).rename(root / "pose" / f"camera{c + 5}")
    s = Session(root)
    with pytest.raises(SessionError, match=r"camera5, camera6, camera7, camera8.*"
                                           r"cam1, cam2, cam3, cam4"):
        session_detections(s, s.rig(), s.settings())


# --- 3. strings where numbers belong ---------------------------------------------------------

def test_string_in_openpose_keypoints(tmp_path):
    kp = [1.0] * 75
    kp[7] = "abc"
    (tmp_path / "x_000000000004_keypoints.json").write_text(
        json.dumps({"people": [{"pose_keypoints_2d": [0.5] * 75}, {"pose_keypoints_2d": kp}]}))
    with pytest.raises(DetectionsError, match=r"x_000000000004_keypoints.json: person 1: "
                                              r"expected numbers.*found 'abc'"):
        read_openpose_folder(tmp_path, "body25")
    with pytest.raises(DetectionsError, match=r"x_000000000004_keypoints.json: person 1"):
        guess_openpose_format(tmp_path)


def test_string_in_coco_keypoints(tmp_path):
    kp = [1.0, 2.0, 1.0] * 17
    kp[4] = "n/a"
    (tmp_path / "c.json").write_text(json.dumps([{"image_id": 2, "keypoints": kp}]))
    with pytest.raises(DetectionsError, match=r"c.json: entry 0 \(image 2\): expected numbers.*"
                                              r"found 'n/a'"):
        read_coco_results(tmp_path / "c.json", "coco17")


def test_string_in_dlc_csv(tmp_path, rng):
    xy = rng.uniform(0, 1000, (4, 1, 17, 2))
    conf = np.full((4, 1, 17), 0.9, np.float32)
    path = write_dlc_csv(tmp_path / "d.csv", xy, conf, "coco17")
    lines = path.read_text().splitlines()
    cells = lines[5].split(",")                     # frame 2 (after three header rows)
    cells[4] = "oops"
    lines[5] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DetectionsError, match=r"d.csv: frame 2, .*: expected a number, "
                                              r"found 'oops'"):
        read_dlc(path, "coco17")


# --- 4. absurd coordinates -------------------------------------------------------------------

def test_absurd_coordinates_become_missing(tmp_path, studio4, clean_take, caplog):
    root = write_session(tmp_path / "s", studio4, clean_take)
    path = _frame_file(root / "pose" / "cam2", "cam2", 7)
    doc = json.loads(path.read_text())
    kp = doc["people"][0]["pose_keypoints_2d"]
    kp[0], kp[1], kp[2] = 1e20, 5.0, 0.9           # joint 0 at 1e20 px
    kp[3], kp[4], kp[5] = 3e4, 5.0, 0.9            # joint 1 beyond 10 image widths
    kp[6], kp[7], kp[8] = float("inf"), 5.0, 0.9   # joint 2: JSON's Infinity
    path.write_text(json.dumps(doc))
    s = Session(root)
    with caplog.at_level(logging.WARNING):
        det = session_detections(s, s.rig(), s.settings())
    assert np.isfinite(det.xy[~np.isnan(det.xy)]).all()
    assert np.isnan(det.xy[1, 7, 0, :3]).all() and not det.conf[1, 7, 0, :3].any()
    assert np.nanmax(np.abs(det.xy)) < 1e4
    assert sum("cam2" in r.getMessage() and "3 keypoints" in r.getMessage()
               for r in caplog.records if r.levelno == logging.WARNING) == 1


def test_absurd_coordinates_without_image_size(tmp_path, rng, caplog):
    xy = rng.uniform(0, 1000, (4, 1, 17, 2))
    conf = np.full((4, 1, 17), 0.9, np.float32)
    xy[1, 0, 3] = [1e20, 1.0]
    path = write_dlc_csv(tmp_path / "d.csv", xy, conf, "coco17")
    with caplog.at_level(logging.WARNING):
        got_xy, got_conf = read_dlc(path, "coco17")
    assert np.isnan(got_xy[1, 0, 3]).all() and got_conf[1, 0, 3] == 0
    assert "d.csv: 1 keypoints" in caplog.text
