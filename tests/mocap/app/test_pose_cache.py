"""The per-camera cache of OpenPose JSON folders (``out/detect/<cam>.openpose.npz``): used
while a folder is unchanged, rebuilt when a file changes, is added or removed, and when the
cache file is damaged."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from mocap.app import pose_cache
from mocap.app.pose_cache import cache_path
from mocap.app.session import Session
from mocap.app.studio import write_session


@pytest.fixture
def session(tmp_path, studio4, clean_take):
    return Session(write_session(tmp_path / "s", studio4, clean_take))


def detections(session):
    return session.detections(session.rig(), session.settings())


def count_reads(monkeypatch) -> list:
    """Calls of the JSON reader, by folders read."""
    calls = []
    real = pose_cache.read_openpose_folders

    def spy(folders, *args, **kwargs):
        calls.append([f.name for f in folders])
        return real(folders, *args, **kwargs)
    monkeypatch.setattr(pose_cache, "read_openpose_folders", spy)
    return calls


def test_second_read_comes_from_the_cache(session, clean_take, monkeypatch):
    calls = count_reads(monkeypatch)
    first = detections(session)
    assert calls == [["cam1", "cam2", "cam3", "cam4"]]
    assert all(cache_path(session.out, c).is_file() for c in first.camera_names)
    again = detections(session)
    assert len(calls) == 1                         # nothing read again
    np.testing.assert_array_equal(again.xy, first.xy)
    np.testing.assert_array_equal(again.conf, first.conf)
    assert np.allclose(first.xy, clean_take.detections.xy, atol=1e-3, equal_nan=True)


def test_a_changed_file_rereads_only_its_camera(session, monkeypatch):
    calls = count_reads(monkeypatch)
    detections(session)
    path = session.root / "pose" / "cam2" / "cam2_000000000010_keypoints.json"
    doc = json.loads(path.read_text())
    doc["people"][0]["pose_keypoints_2d"][:3] = [111.0, 222.0, 0.5]
    path.write_text(json.dumps(doc))
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000))
    det = detections(session)
    assert calls[1] == ["cam2"]
    assert np.allclose(det.xy[1, 10, 0, 0], [111, 222]) and det.conf[1, 10, 0, 0] == 0.5


def test_a_removed_file_is_a_missing_frame_again(session, monkeypatch):
    calls = count_reads(monkeypatch)
    detections(session)
    (session.root / "pose" / "cam3" / "cam3_000000000020_keypoints.json").unlink()
    det = detections(session)
    assert calls[1] == ["cam3"]
    assert np.isnan(det.xy[2, 20]).all() and not det.conf[2, 20].any()


def test_a_damaged_cache_file_is_rebuilt(session, monkeypatch):
    calls = count_reads(monkeypatch)
    first = detections(session)
    cache_path(session.out, "cam4").write_bytes(b"not a zip file")
    det = detections(session)
    assert calls[1] == ["cam4"]
    np.testing.assert_array_equal(det.xy, first.xy)
    assert np.load(cache_path(session.out, "cam4"))["xy"].shape == first.xy[3].shape
