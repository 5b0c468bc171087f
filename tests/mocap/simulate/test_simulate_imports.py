"""The virtual studio stays light: ``mocap --help`` lists its motions and rig templates, so
importing it must not import torch (only the body model's takes need it)."""
import os
import subprocess
import sys
from pathlib import Path

import mocap


def test_importing_the_studio_does_not_import_torch():
    root = Path(mocap.__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(root)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    code = ("import sys, mocap.simulate, mocap.simulate.crowd; "
            "sys.exit(3 if 'torch' in sys.modules else 0)")
    res = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True,
                         text=True)
    assert res.returncode == 0, res.stderr or "importing mocap.simulate imported torch"
