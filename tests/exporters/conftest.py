"""Synthetic skeletons and motions with known truth for the exporters tests.

World frame: right-handed, Z up, metres (as everywhere in ``exporters``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from exporters import Motion, Skeleton, forward_kinematics

HUMANOID = (
    # name, parent, rest offset (metres, Z up, actor facing -Y)
    ("pelvis", -1, (0.0, 0.0, 0.95)),
    ("spine", 0, (0.0, 0.01, 0.12)),
    ("chest", 1, (0.0, 0.0, 0.25)),
    ("neck", 2, (0.0, -0.01, 0.18)),
    ("head", 3, (0.0, -0.02, 0.12)),
    ("l_shoulder", 2, (0.18, 0.0, 0.12)),
    ("l_elbow", 5, (0.28, 0.0, -0.02)),
    ("l_wrist", 6, (0.25, -0.02, 0.0)),
    ("r_shoulder", 2, (-0.18, 0.0, 0.12)),
    ("r_elbow", 8, (-0.28, 0.0, -0.02)),
    ("r_wrist", 9, (-0.25, -0.02, 0.0)),
    ("l_hip", 0, (0.1, 0.0, -0.05)),
    ("l_knee", 11, (0.0, 0.01, -0.42)),
    ("l_ankle", 12, (0.0, 0.03, -0.41)),
    ("r_hip", 0, (-0.1, 0.0, -0.05)),
    ("r_knee", 14, (0.0, 0.01, -0.42)),
    ("r_ankle", 15, (0.0, 0.03, -0.41)),
)


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded generator: every test is deterministic."""
    return np.random.default_rng(12345)


@pytest.fixture
def humanoid() -> Skeleton:
    """17 joints in depth-first order; pelvis and chest have three children each."""
    names, parents, offsets = zip(*HUMANOID, strict=True)
    return Skeleton(names, np.array(parents), np.array(offsets))


@pytest.fixture
def chain(rng: np.random.Generator) -> Skeleton:
    """6 joints, one child each, bones 0.2-0.5 m long in random directions."""
    directions = rng.normal(size=(6, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    offsets = directions * rng.uniform(0.2, 0.5, size=(6, 1))
    offsets[0] = (0.0, 0.0, 1.0)
    return Skeleton(tuple(f"j{i}" for i in range(6)), np.arange(-1, 5), offsets)


@pytest.fixture
def random_rotations(rng: np.random.Generator) -> Callable[..., np.ndarray]:
    """``random_rotations(*shape, max_deg=None)`` -> (*shape, 3, 3) rotations, uniform on SO(3)
    or, with ``max_deg``, rotation vectors uniform in a ball of that many degrees."""

    def make(*shape: int, max_deg: float | None = None) -> np.ndarray:
        count = int(np.prod(shape))
        if max_deg is None:
            matrices = Rotation.random(count, random_state=rng).as_matrix()
        else:
            vectors = rng.normal(size=(count, 3))
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            vectors *= np.deg2rad(max_deg) * rng.uniform(0, 1, size=(count, 1))
            matrices = Rotation.from_rotvec(vectors).as_matrix()
        return matrices.reshape(*shape, 3, 3)

    return make


@pytest.fixture
def random_motion(rng: np.random.Generator, random_rotations: Callable[..., np.ndarray]) -> Callable[..., Motion]:
    """``random_motion(skeleton, frames, fps=30.0)`` -> Motion with uniform random local rotations
    and root positions within 1 m of (0, 0, 1)."""

    def make(skeleton: Skeleton, frames: int, fps: float = 30.0) -> Motion:
        rotations = random_rotations(frames, skeleton.num_joints)
        translation = rng.uniform(-1.0, 1.0, size=(frames, 3)) + (0.0, 0.0, 1.0)
        return Motion(rotations, translation, fps)

    return make


@pytest.fixture
def fk_positions() -> Callable[[Skeleton, Motion], np.ndarray]:
    """``fk_positions(skeleton, motion)`` -> (F, J, 3) metres."""

    def positions(skeleton: Skeleton, motion: Motion) -> np.ndarray:
        return motion.positions(skeleton)

    return positions
