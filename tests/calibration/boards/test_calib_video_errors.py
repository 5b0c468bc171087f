"""A calibration video that stops decoding partway: the typed error names the file, the frame
where decoding failed and the count the container announced, while a container that
over-announces by a frame or two still reads. (``mocap calibrate`` on such a video:
``tests/mocap/calibration/test_calib_video_command.py``.)"""

from __future__ import annotations

import re

import calib_videos
import pytest
from calib_videos import BOARD, FRAMES, cut

from calibration import VideoError
from calibration.boards import FRAME_COUNT_SLACK, board_from_dict, detect_source, iter_video, video_frame_count


@pytest.fixture(scope="module")
def mjpg_video(tmp_path_factory) -> tuple[bytes, list[int]]:
    """See :func:`calib_videos.mjpg_video`."""
    return calib_videos.mjpg_video(tmp_path_factory.mktemp("video"))


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
