"""The fit tests import the shared scenes (``body_scenes``) from tests/mocap by bare name."""
from __future__ import annotations

import sys
from pathlib import Path

MOCAP_TESTS = str(Path(__file__).resolve().parents[1])
if MOCAP_TESTS not in sys.path:
    sys.path.insert(0, MOCAP_TESTS)
