"""Shape guards of the package's numpy functions: an argument as float64 of the expected
shape, or a :class:`~calibration.errors.ShapeError` naming it."""

from __future__ import annotations

from typing import Any

import numpy as np

from calibration.errors import ShapeError


def last_axis(name: str, a: Any, n: int) -> np.ndarray:
    """``a`` as float64 with shape ``(..., n)``, or :class:`ShapeError`."""
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim < 1 or arr.shape[-1] != n:
        raise ShapeError(f"{name}: expected shape (..., {n}), found {arr.shape}")
    return arr


def exact_shape(name: str, a: Any, shape: tuple[int, ...]) -> np.ndarray:
    """``a`` as float64 with exactly ``shape``, or :class:`ShapeError`."""
    arr = np.asarray(a, dtype=np.float64)
    if arr.shape != shape:
        raise ShapeError(f"{name}: expected shape {shape}, found {arr.shape}")
    return arr


def last_two_axes(name: str, a: Any, shape: tuple[int, int]) -> np.ndarray:
    """``a`` as float64 with shape ``(...) + shape``, or :class:`ShapeError`."""
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim < 2 or arr.shape[-2:] != shape:
        raise ShapeError(f"{name}: expected shape (..., {shape[0]}, {shape[1]}), found {arr.shape}")
    return arr
