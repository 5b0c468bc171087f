"""``mocap triangulate`` on a JSON session loads only what it runs: no scipy (the calibration's
rotations and the exporters' Euler and axis-angle conversions are written out or import it on
first use), no sync, export, fit or body-model code, no torch (checked on the modules a real
run imported, never on the wall-clock time)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from mocap.app.studio import write_session

REPO = Path(__file__).resolve().parents[3]
#: Never imported by `mocap triangulate` on a session of OpenPose JSON folders.
NOT_RUN = ("torch", "scipy", "cv2", "mocap.sync", "mocap.export", "mocap.fit", "mocap.body",
           "mocap.simulate", "mocap.detect", "mocap.opensim", "mocap.app.pipeline",
           "mocap.app.bodies")


def test_triangulate_command_imports_only_what_it_runs(tmp_path, studio4, clean_take):
    root = write_session(tmp_path / "s", studio4, clean_take)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    res = subprocess.run([sys.executable, "-X", "importtime", "-m", "mocap.app.cli", "-q",
                          "triangulate", str(root)], capture_output=True, text=True, cwd=REPO,
                         env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    modules = {line.rsplit("|", 1)[1].strip() for line in res.stderr.splitlines()
               if line.startswith("import time:") and line.count("|") == 2}
    assert "mocap.triangulate" in modules and "mocap.associate" in modules
    loaded = sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in NOT_RUN))
    assert loaded == []
    assert np.isfinite(np.load(root / "out" / "points3d.npz")["xyz"]).any()
