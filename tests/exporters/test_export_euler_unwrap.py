"""BVH rotation channels are continuous over the take (no 360 degree jumps), whatever the order."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from exporters import Motion, Skeleton, read_bvh, write_bvh
from exporters.bvh import skeleton_motion_to_bvh
from exporters.euler import EULER_ORDERS, euler_to_matrix, unwrapped_euler


@pytest.mark.parametrize("order", EULER_ORDERS)
def test_unwrapped_euler_is_continuous_and_exact(order):
    t = np.linspace(0, 1, 200)
    first, middle = order[0].lower(), order[1].lower()
    # one and a half turns about the order's first axis, wobbling about its middle one (away
    # from gimbal lock, where any Euler curve must move fast)
    rotations = (Rotation.from_euler(first, 3 * np.pi * t[:, None]).as_matrix()
                 @ Rotation.from_euler(middle, 0.5 * np.sin(6 * t)[:, None]).as_matrix())[:, None]
    angles = unwrapped_euler(rotations, order)
    assert np.abs(np.diff(angles, axis=0)).max() < 30.0
    np.testing.assert_allclose(euler_to_matrix(angles, order), rotations, atol=1e-9)


def test_bvh_channels_do_not_jump_when_the_root_turns_round(tmp_path):
    skeleton = Skeleton(("root", "child"), np.array([-1, 0]), np.array([[0.0, 0.0, 1.0], [0.3, 0.0, 0.0]]))
    yaw = np.linspace(0, 3 * np.pi, 90)             # one and a half turns about the vertical
    rotations = np.tile(np.eye(3), (90, 2, 1, 1))
    rotations[:, 0] = Rotation.from_euler("z", yaw[:, None]).as_matrix()
    motion = Motion(rotations, np.zeros((90, 3)), 30.0)
    doc = skeleton_motion_to_bvh(skeleton, motion)
    assert np.abs(np.diff(doc.values[:, 3:6], axis=0)).max() < 10.0     # before: a 360 degree jump
    write_bvh(tmp_path / "turn.bvh", skeleton, motion)
    np.testing.assert_allclose(read_bvh(tmp_path / "turn.bvh")[1].rotations, rotations, atol=1e-5)
