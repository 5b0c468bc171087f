"""``mocap calibrate`` on a calibration video that stops decoding partway: the error names the
file, the frame where decoding failed and the count the container announced, and nothing is
written."""

from __future__ import annotations

import calib_videos
import pytest
from calib_videos import BOARD_TOML, FRAMES, cut

from mocap.app.cli import main


@pytest.fixture(scope="module")
def mjpg_video(tmp_path_factory) -> tuple[bytes, list[int]]:
    """See :func:`calib_videos.mjpg_video`."""
    return calib_videos.mjpg_video(tmp_path_factory.mktemp("video"))


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
