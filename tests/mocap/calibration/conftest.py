"""Calibration on data mocap fetches (the Pose2Sim demo through mocap.datasets): the
calibration tests' helper modules (``calib_videos``) importable by name from here too."""

from __future__ import annotations

import sys
from pathlib import Path

_BOARDS_TESTS = Path(__file__).resolve().parents[2] / "calibration" / "boards"
if str(_BOARDS_TESTS) not in sys.path:
    sys.path.insert(0, str(_BOARDS_TESTS))
