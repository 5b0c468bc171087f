"""Shared synthetic scenes for the mocap tests (built once per session, all seeded)."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from mocap.simulate import Actor, ErrorModel, load_rig_template, simulate_take

# Test modules that tests in other folders import by bare name (``from test_detect_onnx
# import blob_frame``); this folder itself is on sys.path already (helpers: body_scenes).
for _sub in ("detect",):
    if str(Path(__file__).resolve().parent / _sub) not in sys.path:
        sys.path.insert(0, str(Path(__file__).resolve().parent / _sub))


@pytest.fixture(scope="session")
def studio4():
    return load_rig_template("studio4")


@pytest.fixture(scope="session")
def clean_take(studio4):
    """60 frames of walking, a perfect detector."""
    return simulate_take(studio4, [Actor("walk", seed=3)], 60, 30.0, "body25",
                         ErrorModel.perfect(), seed=0)


@pytest.fixture(scope="session")
def noisy_take(studio4):
    """90 frames of walking with the default error model and heatmaps."""
    return simulate_take(studio4, [Actor("walk", seed=1)], 90, 30.0, "body25", ErrorModel(),
                         seed=7, heatmaps=True)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


# Several people (association and tracking): detections shuffled per camera and frame.

@pytest.fixture(scope="session")
def crossing3(studio4):
    """3 people crossing in studio4, 120 frames, default detector, people shuffled."""
    from mocap.simulate.crowd import crowd_actors, simulate_crowd
    return simulate_crowd(studio4, crowd_actors("crossing3", 120), 120, 30.0, "body25",
                          ErrorModel(), seed=5)


@pytest.fixture(scope="session")
def crowd4(studio4):
    """4 people in studio4, 120 frames: one enters at 40, one leaves at 40 and returns at 80."""
    from mocap.simulate.crowd import crowd_actors, simulate_crowd
    return simulate_crowd(studio4, crowd_actors("crowd4", 120), 120, 30.0, "body25",
                          ErrorModel(), seed=6)
