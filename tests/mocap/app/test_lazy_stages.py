"""A stage command on JSON detections loads only what it runs: importing the stage runners
(:mod:`mocap.app.steps`, what ``mocap triangulate`` imports) loads neither the video
detectors nor torch."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def test_stage_runners_import_no_detector_nor_torch():
    code = ("import sys, mocap.app.steps; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'torch' "
            "or m.startswith('mocap.detect.')))")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip() == "[]"
