"""Euler angles (exporters.euler): BVH's intrinsic channel orders, FBX's XYZ unwrapped over
time and its RotationOrder enum."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from exporters.euler import (
    EULER_ORDERS,
    FBX_ROTATION_ORDERS,
    euler_to_matrix,
    fbx_euler_to_matrix,
    matrix_to_euler,
    unwrapped_euler_xyz,
)

# ----------------------------------------------------------------------------- BVH: intrinsic orders


@pytest.mark.parametrize("order", EULER_ORDERS)
def test_euler_matrices_are_intrinsic_products_in_channel_order(order: str, rng) -> None:
    angles = rng.uniform(-180, 180, size=(20, 3))
    expected = Rotation.from_euler(order.upper(), angles, degrees=True).as_matrix()  # upper case: intrinsic
    np.testing.assert_allclose(euler_to_matrix(angles, order), expected, atol=1e-14)
    first, second, third = (
        Rotation.from_euler(order[k], angles[:, k : k + 1], degrees=True).as_matrix() for k in range(3)
    )
    np.testing.assert_allclose(euler_to_matrix(angles, order), first @ second @ third, atol=1e-14)


@pytest.mark.parametrize("order", EULER_ORDERS)
def test_matrix_to_euler_inverts_euler_to_matrix(order: str, random_rotations) -> None:
    rotations = random_rotations(4, 25)
    angles = matrix_to_euler(rotations, order)
    assert angles.shape == (4, 25, 3)
    assert np.all(np.abs(angles[..., 1]) <= 90.0 + 1e-9)
    np.testing.assert_allclose(euler_to_matrix(angles, order), rotations, atol=1e-12)


# ----------------------------------------------------------------------------- FBX: extrinsic orders


def test_unwrapped_euler_is_continuous_and_exact(random_rotations) -> None:
    # a joint spinning 3 full turns about a tilted axis, 10 degrees per frame
    axis = np.array([0.3, -0.5, 0.8]) / np.linalg.norm([0.3, -0.5, 0.8])
    steps = np.deg2rad(10.0) * np.arange(108)
    rotations = np.stack([Rotation.from_rotvec(axis[None] * steps[:, None]).as_matrix(),
                          random_rotations(108, max_deg=30)], axis=1)
    angles = unwrapped_euler_xyz(rotations)
    back = Rotation.from_euler("xyz", angles.reshape(-1, 3), degrees=True).as_matrix().reshape(rotations.shape)
    np.testing.assert_allclose(back, rotations, atol=1e-12)
    assert np.abs(np.diff(angles[:, 0], axis=0)).max() < 30.0  # no 360-degree jumps between keys
    assert np.ptp(angles[:, 0]) > 360.0  # the spin keeps winding up instead of wrapping


@pytest.mark.parametrize("order", sorted(FBX_ROTATION_ORDERS))
def test_fbx_rotation_orders_are_extrinsic_in_letter_order(order: int, rng) -> None:
    angles = rng.uniform(-180, 180, size=(20, 3))  # (x, y, z) as FBX stores them, whatever the order
    sequence = FBX_ROTATION_ORDERS[order]
    columns = ["xyz".index(axis) for axis in sequence]
    expected = Rotation.from_euler(sequence, angles[:, columns], degrees=True).as_matrix()  # lower case: extrinsic
    np.testing.assert_allclose(fbx_euler_to_matrix(angles, order), expected, atol=1e-14)
    np.testing.assert_allclose(euler_to_matrix(angles[:, columns], sequence), expected, atol=1e-14)
    np.testing.assert_allclose(euler_to_matrix(matrix_to_euler(expected, sequence), sequence), expected, atol=1e-12)


def test_xyz_is_zyx_reversed(random_rotations) -> None:
    rotations = random_rotations(50)
    np.testing.assert_array_equal(matrix_to_euler(rotations, "xyz"), matrix_to_euler(rotations, "ZYX")[..., ::-1])
    angles = matrix_to_euler(rotations, "xyz")
    np.testing.assert_allclose(euler_to_matrix(angles, "xyz"), euler_to_matrix(angles[..., ::-1], "ZYX"), atol=1e-15)
    np.testing.assert_allclose(euler_to_matrix(angles, "xyz"), rotations, atol=1e-12)
