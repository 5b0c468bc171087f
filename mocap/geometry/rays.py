"""Rays of cameras through normalised image points: their world directions and how far a
bundle of them spreads (numpy or torch alike).

Camera rotations are given as the columns the batched triangulation core keeps
(:class:`mocap.triangulate.dlt.DltRig`): ``R[k][i]`` the (C, 1) column of entry (k, i) of
``R_cam_from_world``, which broadcasts against per-view arrays (C, S).
"""
from __future__ import annotations

import numpy as np

__all__ = ["ray_directions", "ray_spread_deg"]


def ray_directions(R, x, y):
    """World directions ``R^T (x, y, 1)`` of the rays through normalised points (not unit).

    Args:
        R: 3 x 3 nested (C, 1) columns of ``R_cam_from_world`` (see the module doc).
        x, y: (C, S) undistorted normalised image coordinates.
    Returns:
        3 arrays (C, S): the x, y, z components, world frame.
    """
    return [R[0][k] * x + R[1][k] * y + R[2][k] for k in range(3)]


def ray_spread_deg(xp, R, x, y, used):
    """Largest angle (degrees) between a used view's ray and the mean used ray direction.

    x, y: (C, S) normalised detections; used (C, S); R as in :func:`ray_directions`; xp numpy
    or torch. Returns (S,) (0 with < 2 views). The rays' directions alone decide whether depth
    is determined, wherever the cameras are.
    """
    d = ray_directions(R, x, y)
    n = xp.sqrt(d[0] ** 2 + d[1] ** 2 + d[2] ** 2)
    u = [xp.where(used, a / n, 0.0) for a in d]
    mean = [a.sum(0) for a in u]
    mn = xp.sqrt(mean[0] ** 2 + mean[1] ** 2 + mean[2] ** 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        cosang = sum(u[k] * (mean[k] / mn)[None] for k in range(3))
    cosang = xp.where(used, cosang, 1.0)
    lo = cosang.min(0) if xp is np else cosang.min(0).values
    return xp.rad2deg(xp.arccos(xp.clip(lo, -1.0, 1.0)))
