"""The app tests import helper modules of neighbouring test folders by bare name
(``test_detect_onnx``'s tiny detector from tests/mocap, ``calib_scenes`` from
tests/calibration, ``calib_videos`` from tests/calibration/boards): those folders go on
``sys.path``."""
from __future__ import annotations

import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[2]
for folder in (TESTS / "mocap", TESTS / "calibration", TESTS / "calibration" / "boards"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
