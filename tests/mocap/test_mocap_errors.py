"""VideoError is one class for both packages (where error classes live: tests/test_layout.py)."""
from __future__ import annotations

import pickle

import calibration
from mocap.app.cli import is_user_error
from mocap.errors import DetectionsError, MocapError, VideoError


def test_video_error_is_a_mocap_and_a_calibration_video_error():
    err = VideoError("camera cam_a: video a.mp4 not found", "a.mp4")
    assert isinstance(err, DetectionsError) and isinstance(err, MocapError)
    assert isinstance(err, calibration.VideoError) and is_user_error(err)
    assert str(err) == "camera cam_a: video a.mp4 not found" and err.path == "a.mp4"
    back = pickle.loads(pickle.dumps(err))       # crosses a process pool unchanged
    assert type(back) is VideoError and str(back) == str(err) and back.path == "a.mp4"
