"""Axis and unit conversions at the exporter boundary."""

from __future__ import annotations

import numpy as np
import pytest

from exporters import ExportError, rotation_yup_to_zup, rotation_zup_to_yup, units_per_metre, yup_to_zup, zup_to_yup
from exporters.axes import ZUP_TO_YUP


def test_zup_to_yup_maps_axes_as_stated() -> None:
    # Z-up (x, y, z) -> Y-up (x, z, -y): up stays up, our +Y (Blender's +Y) is the file's -Z
    np.testing.assert_array_equal(zup_to_yup([0.0, 0.0, 1.0]), [0.0, 1.0, 0.0])
    np.testing.assert_array_equal(zup_to_yup([0.0, 1.0, 0.0]), [0.0, 0.0, -1.0])
    np.testing.assert_array_equal(zup_to_yup([1.0, 0.0, 0.0]), [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(zup_to_yup([1.0, 2.0, 3.0]), ZUP_TO_YUP @ [1.0, 2.0, 3.0])


def test_change_of_axes_is_a_proper_rotation() -> None:
    np.testing.assert_allclose(ZUP_TO_YUP @ ZUP_TO_YUP.T, np.eye(3))
    assert np.linalg.det(ZUP_TO_YUP) == pytest.approx(1.0)


def test_point_conversions_invert_each_other(rng) -> None:
    points = rng.normal(size=(4, 5, 3))
    np.testing.assert_array_equal(yup_to_zup(zup_to_yup(points)), points)
    np.testing.assert_array_equal(zup_to_yup(yup_to_zup(points)), points)
    assert zup_to_yup(points).shape == points.shape


def test_rotation_conversions_invert_each_other_and_commute_with_points(random_rotations, rng) -> None:
    rotations = random_rotations(6, 2)
    points = rng.normal(size=(6, 2, 3))
    np.testing.assert_allclose(rotation_yup_to_zup(rotation_zup_to_yup(rotations)), rotations, atol=1e-15)
    np.testing.assert_allclose(rotation_zup_to_yup(rotation_yup_to_zup(rotations)), rotations, atol=1e-15)
    rotated_then_converted = zup_to_yup(np.einsum("...ij,...j->...i", rotations, points))
    converted_then_rotated = np.einsum("...ij,...j->...i", rotation_zup_to_yup(rotations), zup_to_yup(points))
    np.testing.assert_allclose(converted_then_rotated, rotated_then_converted, atol=1e-14)


def test_units_per_metre() -> None:
    assert units_per_metre("m") == 1.0
    assert units_per_metre("cm") == 100.0
    assert units_per_metre("mm") == 1000.0
    with pytest.raises(ExportError, match=r"units: expected one of .* found 'inch'"):
        units_per_metre("inch")
