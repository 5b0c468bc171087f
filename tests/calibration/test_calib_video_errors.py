"""A calibration video that stops decoding partway: the typed error names the file, the frame
where decoding failed and the count the container announced (library and ``mocap calibrate``),
while a container that over-announces by a frame or two still reads."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from calibration import VideoError
from calibration.detection import FRAME_COUNT_SLACK, detect_source, iter_video, video_frame_count
from calibration.boards import board_from_dict
from mocap.app.cli import main

FRAMES = 30
BOARD = dict(kind="charuco", squares_x=5, squares_y=7, square_length_m=0.15,
             marker_length_m=0.11, dictionary="DICT_4X4_50")
BOARD_TOML = "[calibration.board]\n" + "".join(
    f"{k} = {v!r}\n".replace("'", '"') for k, v in BOARD.items())


@pytest.fixture(scope="module")
def mjpg_video(tmp_path_factory) -> tuple[bytes, list[int]]:
    """A real 30-frame MJPG ``.avi`` written by OpenCV: its bytes and the byte offset where each
    frame's chunk starts (cutting there leaves exactly that many whole frames)."""
    path = tmp_path_factory.mktemp("video") / "cam.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (96, 72))
    rng = np.random.default_rng(0)
    for f in range(FRAMES):
        img = rng.integers(0, 255, (72, 96, 3), dtype=np.uint8)
        cv2.putText(img, str(f), (20, 50), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (255, 255, 255), 2)
        writer.write(img)
    writer.release()
    data = path.read_bytes()
    movi = data.index(b"movi")           # frame chunks follow the 'movi' list, each '00dc'
    index = data.index(b"idx1")          # then the index, which repeats the tags
    starts = [m.start() for m in re.finditer(b"00dc", data) if movi < m.start() < index]
    assert len(starts) == FRAMES
    return data, starts


def cut(tmp_path: Path, mjpg_video, frames_kept: int, name: str = "cam1.avi") -> Path:
    """The video with its bytes cut where frame ``frames_kept`` starts (index lost too)."""
    data, starts = mjpg_video
    path = tmp_path / name
    path.write_bytes(data[:starts[frames_kept]])
    return path


def test_whole_video_reads_every_frame(tmp_path, mjpg_video):
    path = tmp_path / "whole.avi"
    path.write_bytes(mjpg_video[0])
    assert video_frame_count(path) == FRAMES
    assert [f for f, _ in iter_video(path)] == list(range(FRAMES))
    assert [f for f, _ in iter_video(path, frame_step=4)] == list(range(0, FRAMES, 4))


@pytest.mark.parametrize("kept", [1, 12, FRAMES - FRAME_COUNT_SLACK - 1])
def test_video_cut_partway_names_file_frame_and_count(tmp_path, mjpg_video, kept):
    path = cut(tmp_path, mjpg_video, kept)
    assert video_frame_count(path) == FRAMES  # the header still announces every frame
    got = []
    with pytest.raises(VideoError) as info:
        for f, _ in iter_video(path, frame_step=2):
            got.append(f)
    assert str(info.value) == (
        f"{path}: expected {FRAMES} frames (the count its container announces), found the "
        f"stream ending at frame {kept}: the file is truncated or corrupt")
    assert info.value.path == str(path)
    assert got == list(range(0, kept, 2))  # the frames before the cut were given out


@pytest.mark.parametrize("missing", range(1, FRAME_COUNT_SLACK + 1))
def test_a_few_over_announced_frames_are_tolerated(tmp_path, mjpg_video, missing):
    """Containers that estimate their frame count from the duration over-announce by one or
    two: the frames there are read, without an error."""
    path = cut(tmp_path, mjpg_video, FRAMES - missing)
    assert [f for f, _ in iter_video(path)] == list(range(FRAMES - missing))


def test_max_frames_stops_early_without_error(tmp_path, mjpg_video):
    path = cut(tmp_path, mjpg_video, 10)
    assert [f for f, _ in iter_video(path, max_frames=5)] == [0, 1, 2, 3, 4]


def test_header_cut_is_an_unreadable_file(tmp_path, mjpg_video):
    path = tmp_path / "cam1.avi"
    path.write_bytes(mjpg_video[0][:200])
    with pytest.raises(VideoError, match=rf"^{re.escape(str(path))}: expected a video OpenCV can "
                       r"decode, found an unreadable file$"):
        list(iter_video(path))
    with pytest.raises(VideoError, match=r"expected a video file, found nothing there"):
        list(iter_video(tmp_path / "absent.avi"))


def test_detection_stops_on_a_truncated_video(tmp_path, mjpg_video):
    path = cut(tmp_path, mjpg_video, 7)
    with pytest.raises(VideoError, match=r"found the stream ending at frame 7"):
        detect_source(path, board_from_dict(dict(BOARD)), "cam1")


def test_calibrate_command_reports_a_truncated_video(tmp_path, mjpg_video, capsys):
    session = tmp_path / "s"
    (session / "calibration").mkdir(parents=True)
    (session / "session.toml").write_text(BOARD_TOML)
    bad = cut(session / "calibration", mjpg_video, 9, "cam1.avi")
    (session / "calibration" / "cam2.avi").write_bytes(mjpg_video[0])
    assert main(["calibrate", str(session), "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (f"error: {bad}: expected {FRAMES} frames (the count its container "
                       "announces), found the stream ending at frame 9: the file is truncated "
                       "or corrupt")
    assert not any("Traceback" in line for line in err)
    assert not (session / "calibration.toml").exists()
    assert not (session / "out" / "calibration" / "report.json").exists()
