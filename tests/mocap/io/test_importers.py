"""Importers: round trips of every format on virtual-studio detections, and their errors."""
from __future__ import annotations

import json

import numpy as np
import pytest

from mocap.app.detections import session_detections
from mocap.errors import DetectionsError, KeypointFormatError, SessionError
from mocap.io.importers import (import_cameras, match_joints, read_coco_results, read_dlc,
                                read_pose_file, read_sleap_analysis, write_coco_results,
                                write_dlc_csv, write_dlc_h5, write_sleap_analysis)
from mocap.io.openpose import guess_openpose_format, read_openpose_folder, write_openpose_frame
from mocap.keypoints import convert_keypoints, get_format
from mocap.app.session import Session
from mocap.settings import settings_from_dict
from mocap.simulate import Actor, ErrorModel, simulate_take


@pytest.fixture(scope="module")
def two_people(studio4):
    """One camera's detections of two people (with missing joints and frames), coco17."""
    take = simulate_take(studio4, [Actor("walk", seed=1), Actor("turn", seed=2,
                                                                 xy_offset_m=(1.0, 0.5))],
                         20, 30.0, "coco17", ErrorModel(), seed=3)
    det = take.detections
    xy, conf = det.xy[0].copy(), det.conf[0].copy()
    xy[3, 1] = np.nan
    conf[3, 1] = 0
    assert np.isnan(xy).any() and (conf > 0).any()
    return xy, conf


def _same(a_xy, a_conf, b_xy, b_conf, atol=1e-3):
    assert a_xy.shape == b_xy.shape and a_conf.shape == b_conf.shape
    assert np.array_equal(np.isnan(a_xy), np.isnan(b_xy))
    assert np.allclose(a_xy, b_xy, atol=atol, equal_nan=True)
    assert np.allclose(a_conf, b_conf, atol=atol)


def test_coco_results_round_trip(two_people, tmp_path):
    xy, conf = two_people
    path = write_coco_results(tmp_path / "cam.json", xy, conf)
    got_xy, got_conf, fmt = read_coco_results(path)                # format from the count
    assert fmt == "coco17"
    # people are re-ordered by score per frame: each person must be found among them
    for f in range(xy.shape[0]):
        for p in range(2):
            if not conf[f, p].any():
                continue
            assert any(np.array_equal(np.isnan(xy[f, p]), np.isnan(got_xy[f, q])) and
                       np.allclose(xy[f, p], got_xy[f, q], atol=1e-3, equal_nan=True) and
                       np.allclose(conf[f, p], got_conf[f, q], atol=1e-3) for q in range(2))


def test_coco_dataset_dict_with_visibility_flags(tmp_path):
    kp = np.zeros((17, 3))
    kp[0] = [10.0, 20.0, 2]
    kp[5] = [30.0, 40.0, 1]
    doc = {"images": [{"id": 7, "file_name": "frame_000003.jpg"}],
           "annotations": [{"image_id": 7, "category_id": 1, "keypoints": kp.ravel().tolist()}]}
    (tmp_path / "gt.json").write_text(json.dumps(doc))
    xy, conf, fmt = read_coco_results(tmp_path / "gt.json", "coco17")
    assert xy.shape == (4, 1, 17, 2) and np.isnan(xy[:3]).all()
    assert conf[3, 0, 0] == 1.0 and conf[3, 0, 5] == 1.0 and conf[3, 0, 1] == 0.0
    assert np.allclose(xy[3, 0, 5], [30, 40]) and np.isnan(xy[3, 0, 1]).all()


@pytest.mark.parametrize("writer", ["csv", "h5"])
def test_deeplabcut_round_trip(two_people, tmp_path, writer):
    xy, conf = two_people
    if writer == "csv":
        path = write_dlc_csv(tmp_path / "cam.csv", xy, conf, "coco17")
    else:
        path = write_dlc_h5(tmp_path / "cam.h5", xy, conf, "coco17")
    got_xy, got_conf = read_dlc(path, "coco17")
    _same(xy, conf, got_xy, got_conf)
    assert read_pose_file(path, "coco17")[2] == "coco17"


def test_deeplabcut_single_animal_into_another_format(two_people, tmp_path):
    """Body parts named after coco17 read into halpe26: shared joints kept, the rest missing."""
    xy, conf = two_people
    path = write_dlc_csv(tmp_path / "one.csv", xy[:, :1], conf[:, :1], "coco17")
    assert open(path).readline().startswith("scorer")
    got_xy, got_conf = read_dlc(path, "halpe26")
    want = convert_keypoints(xy[:, :1], "coco17", "halpe26")
    _same(want, convert_keypoints(conf[:, :1], "coco17", "halpe26", axis=-1, fill=0.0),
          got_xy, got_conf)


def test_sleap_round_trip(two_people, tmp_path):
    xy, conf = two_people
    path = write_sleap_analysis(tmp_path / "cam.analysis.h5", xy, conf, "coco17")
    got_xy, got_conf = read_sleap_analysis(path, "coco17")
    _same(xy, conf, got_xy, got_conf)
    assert read_pose_file(path, "coco17")[0].shape == xy.shape      # told apart from DLC


def test_joint_names_that_match_nothing(tmp_path, two_people, caplog):
    with pytest.raises(KeypointFormatError, match=r"none of its joints \(snout, tailbase\) is a "
                                                  r"joint of format 'coco17'"):
        match_joints(["snout", "tailbase"], "coco17", "x.csv")
    idx = match_joints(["Nose", "L-Shoulder", "tail"], "coco17", "x.csv")
    assert list(idx) == [0, 5, -1] and "tail" in caplog.text
    with pytest.raises(KeypointFormatError, match="unknown keypoint format 'coco19'"):
        read_dlc(write_dlc_csv(tmp_path / "c.csv", *two_people, "coco17"), "coco19")


def test_bad_files(tmp_path):
    (tmp_path / "a.json").write_text("{not json")
    with pytest.raises(DetectionsError, match="a.json: not a readable JSON file"):
        read_coco_results(tmp_path / "a.json")
    (tmp_path / "b.json").write_text(json.dumps([{"image_id": 0, "keypoints": [1, 2, 1] * 20}]))
    with pytest.raises(KeypointFormatError, match="20 keypoints per person; cannot tell"):
        read_coco_results(tmp_path / "b.json")
    with pytest.raises(KeypointFormatError, match="20 keypoints per person, format 'coco17'"):
        read_coco_results(tmp_path / "b.json", "coco17")
    (tmp_path / "c.txt").write_text("x")
    with pytest.raises(DetectionsError, match="unknown detections file type '.txt'"):
        read_pose_file(tmp_path / "c.txt", "coco17")
    (tmp_path / "d.h5").write_bytes(b"not hdf5")
    with pytest.raises(DetectionsError, match="d.h5: not a readable HDF5 file"):
        read_pose_file(tmp_path / "d.h5", "coco17")
    (tmp_path / "e.csv").write_text("a,b\n1,2\n")
    with pytest.raises(DetectionsError, match="e.csv: "):
        read_dlc(tmp_path / "e.csv", "coco17")


@pytest.mark.parametrize("fmt", ["coco18", "body25", "body25b"])
def test_openpose_models_are_read_and_recognised(studio4, tmp_path, fmt):
    take = simulate_take(studio4, [Actor("walk", seed=4)], 6, 30.0, fmt, ErrorModel.perfect())
    folder = tmp_path / "cam"
    folder.mkdir()
    for f in range(6):
        write_openpose_frame(folder / f"cam_{f:012d}_keypoints.json", take.detections.xy[0, f],
                             take.detections.conf[0, f])
    assert guess_openpose_format(folder) == fmt
    xy, conf, _ = read_openpose_folder(folder, "auto")
    assert np.allclose(xy, take.detections.xy[0], atol=1e-3, equal_nan=True)
    wrong = {"coco18": "body25", "body25": "coco18", "body25b": "coco18"}[fmt]
    with pytest.raises(DetectionsError, match=f"format '{wrong}' expects .*keypoints is OpenPose"):
        read_openpose_folder(folder, wrong)


def test_old_openpose_key(tmp_path):
    folder = tmp_path / "old"
    folder.mkdir()
    kp = np.arange(54, dtype=float) + 1
    (folder / "f_0.json").write_text(json.dumps({"people": [{"pose_keypoints": kp.tolist()}]}))
    xy, conf, _ = read_openpose_folder(folder, "coco18")
    assert np.allclose(xy[0, 0, 0], [1, 2]) and get_format("coco18").num_joints == 18


def test_session_reads_pose_files(studio4, tmp_path, two_people):
    """A session with pose/<cam>.csv files (DeepLabCut) is read in the rig's order."""
    xy, conf = two_people
    studio4.save(tmp_path / "calibration.toml")
    (tmp_path / "pose").mkdir()
    for c, name in enumerate(studio4.names):
        write_dlc_csv(tmp_path / "pose" / f"{name}.csv", xy + c, conf, "coco17")
    settings = settings_from_dict({"detect": {"format": "coco17"}, "take": {"fps": 50.0}})
    session = Session(tmp_path)
    det = session_detections(session, session.rig(), settings)
    assert det.shape == (4, 20, 2, 17) and det.fps == 50.0
    assert np.allclose(det.xy[2], xy + 2, atol=1e-3, equal_nan=True)
    (tmp_path / "pose" / f"{studio4.names[1]}.csv").unlink()
    with pytest.raises(SessionError, match=f"no detections file for camera\\(s\\) "
                                           f"{studio4.names[1]}"):
        session_detections(session, session.rig(), settings)
    with pytest.raises(KeypointFormatError, match="disagree|coco17"):
        import_cameras([tmp_path / "pose" / f"{studio4.names[0]}.csv"], ("a",), "coco19", 30.0)


def test_session_without_any_detections(studio4, tmp_path):
    studio4.save(tmp_path / "calibration.toml")
    session = Session(tmp_path)
    with pytest.raises(SessionError, match="no 2D detections: expected pose/<camera>/"):
        session_detections(session, session.rig(), settings_from_dict({}))
