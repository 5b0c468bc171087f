"""The closed-form Euler angles (exporters.euler.tait_bryan_angles) that the BVH and FBX
curves are made from: scipy's angles (matrix_to_euler) to rounding in every order, the matrix
given back at gimbal lock, and the unwrapped curves as before."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from exporters.euler import (EULER_ORDERS, euler_to_matrix, matrix_to_euler, tait_bryan_angles,
                             unwrapped_euler)

ORDERS = EULER_ORDERS + tuple(o.lower() for o in EULER_ORDERS)


@pytest.mark.parametrize("order", ORDERS)
def test_closed_form_matches_scipy(order: str) -> None:
    R = Rotation.random(500, random_state=3).as_matrix().reshape(20, 25, 3, 3)
    angles = tait_bryan_angles(R, order)
    assert angles.shape == (20, 25, 3)
    np.testing.assert_allclose(angles, matrix_to_euler(R, order), atol=1e-9)
    np.testing.assert_allclose(euler_to_matrix(angles, order), R, atol=1e-12)


@pytest.mark.parametrize("order", ORDERS)
def test_gimbal_lock_gives_back_the_matrix(order: str) -> None:
    angles = np.array([[30.0, 90.0, 20.0], [-50.0, -90.0, 10.0], [170.0, 90.0 - 1e-9, -60.0]])
    R = euler_to_matrix(angles, order if order.isupper() else order)
    got = tait_bryan_angles(R, order)
    np.testing.assert_allclose(euler_to_matrix(got, order), R, atol=1e-9)
    assert np.all(np.abs(got[:, 1]) <= 90.0)


def test_unwrapped_curves_are_those_of_scipys_angles() -> None:
    """A joint spinning through several turns, over the +-180 seams and through a gimbal-free
    tumble: the unwrapped curve is continuous and gives back the matrices."""
    t = np.linspace(0, 1, 400)
    rv = np.stack([4 * np.pi * t, 0.6 * np.sin(9 * t), 3 * np.pi * t ** 2], -1)
    R = Rotation.from_rotvec(rv).as_matrix()[:, None]
    for order in ("ZXY", "xyz"):
        curve = unwrapped_euler(R, order)
        assert np.abs(np.diff(curve, axis=0)).max() < 30.0
        np.testing.assert_allclose(euler_to_matrix(curve, order), R, atol=1e-12)


def _frame_by_frame(rotations: np.ndarray, order: str) -> np.ndarray:
    """The unwrapping followed one frame at a time (the definition; the code before the
    chain was scanned)."""
    angles = tait_bryan_angles(rotations, order)
    alternative = np.stack([angles[..., 0] + 180.0, 180.0 - angles[..., 1], angles[..., 2] + 180.0], -1)
    out = np.empty_like(angles)
    out[0] = angles[0]
    for f in range(1, len(angles)):
        previous = out[f - 1]
        a = angles[f] + 360.0 * np.round((previous - angles[f]) / 360.0)
        b = alternative[f] + 360.0 * np.round((previous - alternative[f]) / 360.0)
        closer_a = np.sum((a - previous) ** 2, axis=-1) <= np.sum((b - previous) ** 2, axis=-1)
        out[f] = np.where(closer_a[:, None], a, b)
    return out


@pytest.mark.parametrize("order", ["ZXY", "xyz", "YXZ"])
def test_scanned_unwrapping_is_the_frame_by_frame_one(order: str) -> None:
    rng = np.random.default_rng(0)
    walk = np.cumsum(rng.normal(0, 0.3, (700, 6, 3)), axis=0)           # through gimbal regions
    jumps = Rotation.random(300 * 4, random_state=1).as_rotvec().reshape(300, 4, 3)
    for rv in (walk, jumps):
        R = Rotation.from_rotvec(rv.reshape(-1, 3)).as_matrix().reshape(*rv.shape[:2], 3, 3)
        np.testing.assert_array_equal(unwrapped_euler(R, order), _frame_by_frame(R, order))
    one = Rotation.random(3, random_state=2).as_matrix()[None]
    np.testing.assert_array_equal(unwrapped_euler(one, order), _frame_by_frame(one, order))
