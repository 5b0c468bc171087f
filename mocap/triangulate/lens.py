"""OpenCV's lens model on normalised coordinates, with its Jacobian, batched (numpy or torch).

The one copy triangulation uses: the undistortion's Newton steps
(:mod:`mocap.triangulate.undistort`) and the volumetric projection
(:mod:`mocap.triangulate.volumetric`).
"""
from __future__ import annotations

import numpy as np

from .backend import ns

__all__ = ["lens_distort"]


def lens_distort(x, y, dist: np.ndarray, model: str = "pinhole"):
    """OpenCV lens model on normalised coordinates, with its Jacobian (numpy or torch).

    The same model as :func:`calibration.camera.distort_normalized` (checked against it in
    the tests), written on separate coordinate arrays so that it runs batched in numpy and
    torch alike.

    Args:
        x, y: (...) undistorted normalised coordinates, unitless.
        dist: (k,) coefficients, OpenCV order: pinhole ``(k1, k2, p1, p2[, k3[, k4, k5,
            k6]])``, fisheye ``(k1, k2, k3, k4)``.
    Returns:
        xd, yd (...) distorted normalised coordinates and the Jacobian entries
        ``(dxd/dx, dxd/dy, dyd/dx, dyd/dy)``.
    """
    xp = ns(x)
    d = np.zeros(8)
    d[:len(dist)] = np.asarray(dist, float)
    d = [float(v) for v in d]  # Python floats: numpy scalars would turn tensors into arrays
    if model == "fisheye":
        k1, k2, k3, k4 = d[:4]
        r2 = x * x + y * y
        r = xp.sqrt(r2)
        th = xp.arctan(r)
        t2 = th * th
        thd = th * (1 + t2 * (k1 + t2 * (k2 + t2 * (k3 + t2 * k4))))
        dthd = 1 + t2 * (3 * k1 + t2 * (5 * k2 + t2 * (7 * k3 + t2 * 9 * k4)))
        small = r < 1e-12
        rs = xp.where(small, 1.0, r)
        scale = xp.where(small, 1.0, thd / rs)
        # d scale / d r, divided by r (finite as r -> 0, where it tends to a constant that
        # multiplies x^2 or xy and so vanishes).
        ds_r = xp.where(small, 0.0, (dthd / (1 + r2) - scale) / (rs * rs))
        return (x * scale, y * scale, scale + ds_r * x * x, ds_r * x * y, ds_r * x * y,
                scale + ds_r * y * y)
    return _pinhole_distort(x, y, d, bool(d[5] or d[6] or d[7]))


def _pinhole_distort(x, y, d, rational: bool):
    """OpenCV's pinhole lens on normalised coordinates and its Jacobian (see
    :func:`lens_distort`); ``d``: 8 coefficients (floats, or (C, 1) columns that broadcast
    against x, y (C, N)); ``rational``: whether k4..k6 may be non-zero."""
    k1, k2, p1, p2, k3, k4, k5, k6 = d
    xx, yy, xy = x * x, y * y, x * y
    r2 = xx + yy
    num = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
    dnum = k1 + r2 * (2 * k2 + (3 * k3) * r2)
    if rational:
        den = 1 + r2 * (k4 + r2 * (k5 + r2 * k6))
        dden = k4 + r2 * (2 * k5 + (3 * k6) * r2)
        radial = num / den
        drad = (dnum * den - num * dden) / (den * den)
    else:
        radial, drad = num, dnum
    # Shared pieces (p1, p2 may be columns: the products by constants fold into them).
    px, py, qx, qy = (2 * p1) * x, (2 * p1) * y, (2 * p2) * x, (2 * p2) * y
    xx2, yy2 = xx + xx, yy + yy
    xd = x * radial + px * y + p2 * (r2 + xx2)
    yd = y * radial + p1 * (r2 + yy2) + qx * y
    cross = (xy + xy) * drad + px + qy
    return (xd, yd, radial + xx2 * drad + py + 3 * qx, cross, cross,
            radial + yy2 * drad + 3 * py + qx)
