"""``mocap --help`` and ``mocap COMMAND --help`` start light: building the parser imports no
torch, simulator or body models (checked on the set of modules a fresh interpreter imported,
never on the wall-clock time)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
#: Never imported to build the parser of a command other than `demo` and `simulate` (whose
#: choices list the simulator's motions).
HEAVY = ("torch", "mocap.simulate", "mocap.body", "mocap.fit")
#: Not imported by `mocap --help` and `mocap run --help` either.
HEAVY_FOR_HELP = HEAVY + ("numpy", "scipy", "cv2", "calibration", "exporters")


def imported_modules(*args: str) -> set[str]:
    """Modules a fresh ``python -X importtime -m mocap.app.cli ARGS`` imported."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])}
    res = subprocess.run([sys.executable, "-X", "importtime", "-m", "mocap.app.cli", *args],
                         capture_output=True, text=True, cwd=REPO, env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "usage: mocap" in res.stdout
    return {line.rsplit("|", 1)[1].strip() for line in res.stderr.splitlines()
            if line.startswith("import time:") and line.count("|") == 2}


def heavy_among(modules: set[str], heavy: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in heavy))


@pytest.mark.parametrize("args", [("--help",), ("run", "--help")])
def test_help_imports_no_heavy_module(args):
    modules = imported_modules(*args)
    assert "mocap.app.cli" in modules or "mocap.app.commands" in modules
    assert heavy_among(modules, HEAVY_FOR_HELP) == []


@pytest.mark.parametrize("command", ["calibrate", "detect", "sync", "associate", "triangulate",
                                     "fit", "export", "report", "view", "batch", "init",
                                     "models"])
def test_command_help_imports_no_torch(command):
    assert heavy_among(imported_modules(command, "--help"), HEAVY) == []
