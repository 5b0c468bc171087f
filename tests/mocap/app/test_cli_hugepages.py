"""The CLI turns off numpy's huge-page requests (costly page faults on a long take's arrays)
unless the user set ``NUMPY_MADVISE_HUGEPAGE`` themselves."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
CODE = ("import mocap.app.cli, numpy._core.multiarray as m; "
        "print(getattr(m, '_get_madvise_hugepage')())")


@pytest.mark.parametrize("user, expected", [(None, "False"), ("1", "True"), ("0", "False")])
def test_cli_sets_numpy_hugepages_off_unless_told(user, expected):
    env = {k: v for k, v in os.environ.items() if k != "NUMPY_MADVISE_HUGEPAGE"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + [p for p in os.environ.get(
        "PYTHONPATH", "").split(os.pathsep) if p])
    if user is not None:
        env["NUMPY_MADVISE_HUGEPAGE"] = user
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True,
                         env=env, cwd=REPO, check=True)
    assert out.stdout.strip() == expected
