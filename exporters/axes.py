"""Axis and unit changes at the exporter boundary (the only place they happen).

Inside the project the world is right-handed, Z up, metres. BVH and FBX files meant for
Blender and game engines are Y up (and often centimetres). The change of axes is one proper
rotation (-90 degrees about X), stated once::

    Z-up (x, y, z)  ->  Y-up (x, z, -y)          A = [[1, 0, 0],
                                                      [0, 0, 1],
                                                      [0, -1, 0]]

Why this matrix: it is exactly the inverse of the conversion Blender's BVH and FBX importers
apply with their default settings (forward -Z, up Y), and Blender itself is Z up and
right-handed like our world. A file written here and imported into Blender with the default
options therefore lands at the same coordinates it had in our world frame: up stays up and the
actor faces the same way as in our world (our +Y is the file's -Z, which Blender's default
"forward -Z" maps back to +Y), left stays left. Being a rotation (det = +1), not a swap of
two axes, it never mirrors the actor.
"""

from __future__ import annotations

import numpy as np

from exporters.errors import ExportError

__all__ = [
    "ZUP_TO_YUP",
    "zup_to_yup",
    "yup_to_zup",
    "rotation_zup_to_yup",
    "rotation_yup_to_zup",
    "units_per_metre",
    "UP_AXES",
    "check_up_units",
    "to_file_points",
    "from_file_points",
]

ZUP_TO_YUP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
"""(3, 3) rotation A taking Z-up coordinates to Y-up ones: ``x_yup = A @ x_zup``."""
ZUP_TO_YUP.flags.writeable = False

_UNITS_PER_METRE = {"m": 1.0, "cm": 100.0, "mm": 1000.0}


def zup_to_yup(points: np.ndarray) -> np.ndarray:
    """(..., 3) Z-up coordinates -> (..., 3) Y-up coordinates: (x, y, z) -> (x, z, -y)."""
    points = np.asarray(points, dtype=np.float64)
    return np.stack([points[..., 0], points[..., 2], -points[..., 1]], axis=-1)


def yup_to_zup(points: np.ndarray) -> np.ndarray:
    """(..., 3) Y-up coordinates -> (..., 3) Z-up coordinates: (x, y, z) -> (x, -z, y)."""
    points = np.asarray(points, dtype=np.float64)
    return np.stack([points[..., 0], -points[..., 2], points[..., 1]], axis=-1)


def rotation_zup_to_yup(rotations: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotations acting on Z-up vectors -> the same rotations on Y-up vectors.

    Conjugation ``A @ R @ A^T`` with ``A = ZUP_TO_YUP``, so that
    ``rotation_zup_to_yup(R) @ zup_to_yup(x) == zup_to_yup(R @ x)``.
    """
    return ZUP_TO_YUP @ np.asarray(rotations, dtype=np.float64) @ ZUP_TO_YUP.T


def rotation_yup_to_zup(rotations: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotations acting on Y-up vectors -> the same rotations on Z-up vectors (``A^T R A``)."""
    return ZUP_TO_YUP.T @ np.asarray(rotations, dtype=np.float64) @ ZUP_TO_YUP


def units_per_metre(units: str) -> float:
    """How many file units make one metre: "m" -> 1, "cm" -> 100, "mm" -> 1000.

    Raises:
        ExportError: for any other name.
    """
    try:
        return _UNITS_PER_METRE[units]
    except KeyError:
        raise ExportError(f"units: expected one of {sorted(_UNITS_PER_METRE)}, found {units!r}") from None


UP_AXES = ("y", "z")
"""Up axes a file may be written with: ``y`` (Blender, FBX, most BVH) or ``z`` (ours)."""


def check_up_units(up: str, units: str) -> float:
    """Validate a file's ``up`` axis; return its units per metre (see :func:`units_per_metre`).

    Raises:
        ExportError: an unknown up axis or unit.
    """
    if up not in UP_AXES:
        raise ExportError(f"up: expected one of {list(UP_AXES)}, found {up!r}")
    return units_per_metre(units)


def to_file_points(points_m: np.ndarray, up: str, scale: float) -> np.ndarray:
    """(..., 3) internal Z-up metres -> a file's axes (``up``) and units (``scale`` per metre)."""
    return scale * (zup_to_yup(points_m) if up == "y" else np.asarray(points_m, dtype=np.float64))


def from_file_points(points: np.ndarray, up: str, scale: float) -> np.ndarray:
    """(..., 3) a file's axes and units -> internal Z-up metres (inverse of :func:`to_file_points`)."""
    points = np.asarray(points, dtype=np.float64) / scale
    return yup_to_zup(points) if up == "y" else points
