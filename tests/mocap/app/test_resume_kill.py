"""A run killed with SIGKILL during fitting resumes without redoing earlier stages, and ends
with the same outputs as a run that was never interrupted."""
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from mocap.app.pipeline import run
from mocap.app.studio import write_session
from mocap.simulate import Actor, ErrorModel, simulate_take

pytestmark = pytest.mark.slow

SETTINGS = {"export": {"formats": ["bvh", "npz"]}}


def _arrays(path):
    with np.load(path) as d:
        return {k: d[k] for k in d.files}


def _same_npz(a, b):
    x, y = _arrays(a), _arrays(b)
    assert set(x) == set(y)
    for k in x:
        assert np.array_equal(x[k], y[k], equal_nan=x[k].dtype.kind == "f"), (a.name, k)


def test_sigkill_during_fit_then_rerun(tmp_path, studio4, caplog):
    take = simulate_take(studio4, [Actor("squat", seed=4)], 60, 30.0, "body25", ErrorModel(),
                         seed=2)
    ref = write_session(tmp_path / "ref", studio4, take, settings=SETTINGS)
    run(ref)                                               # uninterrupted
    victim = tmp_path / "victim"
    shutil.copytree(ref, victim, ignore=shutil.ignore_patterns("out"))

    proc = subprocess.Popen([sys.executable, "-m", "mocap.app.cli", "-q", "run", str(victim)],
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    stages = victim / "out" / ".stages"
    deadline = time.monotonic() + 300
    while not (stages / "filter.json").exists():           # the fit starts right after
        assert proc.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    time.sleep(0.3)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (stages / "fit.json").exists(), "the fit finished before the kill; no test"
    before = {p.name: p.stat().st_mtime_ns for p in stages.glob("*.json")}
    assert set(before) == {"sync.json", "associate.json", "triangulate.json", "filter.json"}

    caplog.set_level(logging.INFO, logger="mocap.app.stages")
    run(victim)
    skipped = [r.message for r in caplog.records if "up to date, skipped" in r.message]
    assert len(skipped) == 4
    assert not list((victim / "out").rglob("*.tmp"))          # stale temporaries cleaned
    for name, mtime in before.items():
        assert (stages / name).stat().st_mtime_ns == mtime     # earlier stages not redone
    for name in ("points3d.npz", "points3d_raw.npz", "identities.npz", "person0/body.npz",
                 "person0_amass.npz"):
        _same_npz(ref / "out" / name, victim / "out" / name)
    assert (ref / "out" / "person0.bvh").read_bytes() == (victim / "out" / "person0.bvh").read_bytes()
    m_ref = json.loads((ref / "out" / "manifest.json").read_text())
    m_new = json.loads((victim / "out" / "manifest.json").read_text())
    assert [p["files"] for p in m_ref["people"]] == [p["files"] for p in m_new["people"]]
