"""The shared assignment is scipy's Hungarian, imported on first use only."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
from scipy.optimize import linear_sum_assignment

from mocap.associate.assignment import assignment


def test_assignment_is_the_hungarian():
    rng = np.random.default_rng(0)
    for shape in ((1, 1), (3, 3), (2, 5), (6, 4)):
        cost = rng.random(shape)
        for a, b in zip(assignment(cost), linear_sum_assignment(cost)):
            np.testing.assert_array_equal(a, b)


def test_association_and_triangulation_load_without_scipy_optimize():
    code = ("import sys, mocap.associate, mocap.triangulate, mocap.filter; "
            "print('scipy.optimize' in sys.modules, 'scipy.signal' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["False", "False"]
