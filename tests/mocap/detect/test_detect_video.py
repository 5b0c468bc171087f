"""Camera sources: probing, cross-camera checks, background decoding, and the errors."""
from __future__ import annotations

import logging

import cv2
import numpy as np
import pytest

from mocap.app.cli import main
from mocap.app.detections import camera_sources
from mocap.detect.types import BackendSpec
from mocap.detect.video import FrameReader, check_sources, probe_source
from mocap.errors import DetectorError, KeypointFormatError, SessionError, VideoError
from mocap.settings import settings_from_dict
from tiny_video import grey_video


def test_probe_reads_count_rate_and_size(tmp_path):
    info = probe_source(grey_video(tmp_path / "a.avi", 12, 25.0), "cam_a")
    assert (info.num_frames, info.fps, info.size_wh) == (12, 25.0, (64, 48))
    assert not info.is_images


def test_reader_decodes_every_frame_in_order(tmp_path):
    info = probe_source(grey_video(tmp_path / "a.avi", 12), "cam_a")
    with FrameReader(info, prefetch=2) as frames:
        got = [(f, int(rgb.mean().round())) for f, rgb in frames]
    assert [f for f, _ in got] == list(range(12))
    assert all(abs(level - 10 * f) <= 2 for f, level in got)


def test_reader_stops_cleanly_when_left_early(tmp_path):
    info = probe_source(grey_video(tmp_path / "a.avi", 12), "cam_a")
    with FrameReader(info, prefetch=1) as frames:
        for f, _ in frames:
            if f == 2:
                break
    assert not frames._thread.is_alive()


def test_truncated_video_is_refused(tmp_path):
    path = grey_video(tmp_path / "cut.avi", 30)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(VideoError, match=r"camera cam_b: .*cut.avi is truncated: its header "
                                         r"announces 30 frames"):
        probe_source(path, "cam_b")


def test_source_ending_early_raises_while_reading(tmp_path):
    info = probe_source(grey_video(tmp_path / "a.avi", 8), "cam_a")
    with pytest.raises(VideoError, match="expected 12 frames, only 8 could be decoded"):
        with FrameReader(info, 12) as frames:
            for _ in frames:
                pass


def test_unreadable_and_missing_files(tmp_path):
    bad = tmp_path / "noise.mp4"
    bad.write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(VideoError, match="camera cam_c: .*noise.mp4 cannot be decoded"):
        probe_source(bad, "cam_c")
    with pytest.raises(VideoError, match="camera cam_d: video .*gone.mp4 not found"):
        probe_source(tmp_path / "gone.mp4", "cam_d")


def test_different_fps_is_an_error_naming_the_fix(tmp_path):
    a = probe_source(grey_video(tmp_path / "a.avi", 10, 30.0), "cam_a")
    b = probe_source(grey_video(tmp_path / "b.avi", 10, 25.0), "cam_b")
    with pytest.raises(VideoError, match=r"camera cam_b: b.avi runs at 25 fps, camera cam_a at "
                                         r"30 fps.*ffmpeg -i b.avi -r 30"):
        check_sources([a, b])


def test_different_frame_counts_warn_and_use_the_shortest(tmp_path, caplog):
    a = probe_source(grey_video(tmp_path / "a.avi", 10), "cam_a")
    b = probe_source(grey_video(tmp_path / "b.avi", 7), "cam_b")
    with caplog.at_level(logging.WARNING):
        assert check_sources([a, b]) == 7
    assert "different frame counts" in caplog.text and "mocap sync" in caplog.text


def test_image_folder_source(tmp_path):
    folder = tmp_path / "cam_e"
    folder.mkdir()
    for i in (2, 10, 1):                                   # numeric order, not lexical
        cv2.imwrite(str(folder / f"img_{i}.png"), np.full((20, 30, 3), 20 * i, np.uint8))
    info = probe_source(folder, "cam_e", fps=50.0)
    assert (info.num_frames, info.fps, info.size_wh) == (3, 50.0, (30, 20))
    with FrameReader(info) as frames:
        levels = [int(rgb[0, 0, 0]) for _, rgb in frames]
    assert levels == [20, 40, 200]
    (folder / "img_3.png").write_bytes(b"not a png")
    with pytest.raises(VideoError, match="img_3.png: not a readable image"):
        with FrameReader(probe_source(folder, "cam_e", 50.0)) as frames:
            list(frames)


def test_camera_sources_names_missing_cameras(tmp_path):
    (tmp_path / "videos").mkdir()
    grey_video(tmp_path / "videos" / "cam_a.avi")
    assert camera_sources(tmp_path, ("cam_a",))[0].name == "cam_a.avi"
    with pytest.raises(SessionError, match=r"no video for camera\(s\) cam_b .*found "
                                           r"\['cam_a.avi'\]"):
        camera_sources(tmp_path, ("cam_a", "cam_b"))


def test_unknown_backend_and_format_are_errors():
    with pytest.raises(DetectorError, match="unknown detector backend 'openpose'"):
        BackendSpec(kind="openpose")
    with pytest.raises(KeypointFormatError, match="unknown keypoint format 'coco19'"):
        BackendSpec(kind="onnx", model="m.onnx", model_format="coco19")
    with pytest.raises(DetectorError, match="needs a model file"):
        BackendSpec(kind="onnx")
    with pytest.raises(Exception, match=r"unknown key 'backnd' \(did you mean 'backend'"):
        settings_from_dict({"detect": {"backnd": "onnx"}})


def test_cli_detect_reports_a_bad_video_in_one_line(tmp_path, capsys, studio4):
    studio4.save(tmp_path / "calibration.toml")
    (tmp_path / "videos").mkdir()
    for i, name in enumerate(studio4.names):
        grey_video(tmp_path / "videos" / f"{name}.avi", 10, 30.0 if i else 25.0)
    assert main(["detect", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: camera ") and "fps" in err[0]
    assert not (tmp_path / "out" / "detections.npz").exists()
