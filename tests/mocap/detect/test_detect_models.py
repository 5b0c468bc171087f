"""The BlazePose landmark model a session asks for (``[detect] model``), and the mirrored pass
(``[detect] flip``)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mocap.datasets import pose2sim_demo
from mocap.detect.blazepose import FLIP_INDEX, NUM_BODY, PoseLandmarker, flip_agreement
from mocap.detect.geometry import Roi
from mocap.detect.run import make_jobs, spec_from_settings
from mocap.detect.types import DEFAULT_LANDMARK_MODEL, BackendSpec
from mocap.detect.video import FrameReader, probe_source
from mocap.errors import DetectorError, SettingsError
from mocap.keypoints import get_format
from mocap.models import model_path
from mocap.settings import DetectSettings, Settings, load_settings
from tiny_video import grey_video


def test_model_setting_names_a_landmark_model(tmp_path):
    path = tmp_path / "session.toml"
    path.write_text("[detect]\nmodel = 'huge'\n")
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    assert str(info.value) == (f"{path} [detect] model = 'huge' and backend = 'blazepose'; "
                               "expected one of heavy, full, lite (or backend = 'onnx' for a "
                               "model file)")
    for name in ("heavy", "full", "lite"):
        assert spec_from_settings(DetectSettings(model=name)).landmark_model == name
    assert spec_from_settings(DetectSettings()).landmark_model == DEFAULT_LANDMARK_MODEL
    DetectSettings(backend="onnx", model="net.onnx")        # a file for the onnx backend
    with pytest.raises(DetectorError, match="unknown BlazePose model 'huge'"):
        BackendSpec(landmark_model="huge")


def test_the_model_and_the_flip_are_in_a_cameras_fingerprint(tmp_path):
    """Changing the landmark model or the mirrored pass redoes the cameras (and only that)."""
    video = tmp_path / "videos" / "cam_a.avi"
    video.parent.mkdir()
    grey_video(video, 3)
    prints = set()
    for detect in (DetectSettings(), DetectSettings(model="heavy"), DetectSettings(model="lite"),
                   DetectSettings(model="lite", flip=False)):
        settings = Settings(detect=detect)
        jobs = make_jobs([video], ("cam_a",), settings, tmp_path / "out")
        prints.add(jobs[0].fingerprint)
    assert len(prints) == 3                  # the default is heavy: the first two agree
    assert DetectSettings().flip and spec_from_settings(DetectSettings()).flip


def test_flip_index_swaps_each_side_with_the_other():
    fmt = get_format("blazepose33")
    assert list(FLIP_INDEX[:NUM_BODY]) == list(fmt.flip_permutation)
    assert (FLIP_INDEX[FLIP_INDEX] == np.arange(len(FLIP_INDEX))).all()
    assert list(FLIP_INDEX[NUM_BODY:]) == list(range(NUM_BODY, len(FLIP_INDEX)))


def test_flip_agreement_keeps_the_plain_pass_where_the_sides_disagree():
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 256, (len(FLIP_INDEX), 2))
    assert flip_agreement(xy, xy + rng.normal(0, 1, xy.shape)).all()
    mirrored = xy.copy()
    knees = [get_format("blazepose33").index(n) for n in ("left_knee", "right_knee")]
    mirrored[knees] = xy[knees[::-1]]                          # the sides guessed the other way
    agree = flip_agreement(xy, mirrored)
    assert not agree[knees].any() and agree.sum() == len(FLIP_INDEX) - 2


@pytest.mark.network
def test_the_mirrored_pass_sees_a_mirrored_frame_as_the_plain_pass_sees_the_frame():
    """On a real frame: with ``flip``, the answer for the mirrored frame is the mirror of the
    answer for the frame (up to the interpolation of the crop: well below a pixel per cell);
    and it stays within a few pixels of the plain pass."""
    info = probe_source(pose2sim_demo("0.10.49") / "Demo_SinglePerson" / "videos" / "cam01.mp4",
                        "cam01")
    with FrameReader(info, 1) as frames:
        rgb = next(iter(frames))[1]
    W = rgb.shape[1]
    path = Path(model_path("pose_landmark_lite"))
    plain, flip = PoseLandmarker(path), PoseLandmarker(path, flip=True)
    roi = Roi((620.0, 900.0), 1300.0)
    roi_m = Roi((W - 1 - 620.0, 900.0), 1300.0)
    a = flip(rgb, roi)
    b = flip(np.ascontiguousarray(rgb[:, ::-1]), roi_m)
    b_back = np.stack([W - 1 - b.xy[:, 0], b.xy[:, 1]], 1)[FLIP_INDEX]
    body = slice(0, NUM_BODY)
    assert np.median(np.linalg.norm(a.xy[body] - b_back[body], axis=-1)) < 2.0
    p = plain(rgb, roi)
    assert np.median(np.linalg.norm(a.xy[body] - p.xy[body], axis=-1)) < 15.0
