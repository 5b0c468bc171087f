"""The projection of the reprojection term: world points through the cameras' lens model
(:func:`calibration.lens.distort`, OpenCV pinhole and fisheye), differentiable, with the fit's
own depth handling."""
from __future__ import annotations

import weakref

import torch

from calibration import RigArrays
from calibration.lens import distort

__all__ = ["project_points", "project_planes"]

#: :func:`_lens_terms` of each cameras' tensors, by ``ndim`` (forgotten with the cameras).
_LENS_TERMS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def project_points(X: torch.Tensor, cams: RigArrays) -> tuple[torch.Tensor, torch.Tensor]:
    """Project world points through the cameras (as :mod:`calibration.camera`).

    Unlike :meth:`calibration.RigArrays.project`, points behind or at a camera are not NaN:
    their depth is clamped away from 0 (``|z| >= 1e-6``), so the pixels and the gradient stay
    finite everywhere; the reprojection term weighs points by their depth instead.

    Args:
        X: (F, K, 3) world metres.
        cams: the C cameras as tensors on X's device and dtype
            (``rig.arrays().to(device, dtype)``).
    Returns:
        pixels (C, F, K, 2) and depth (C, F, K) metres along each optical axis.
    """
    u, v, z = project_planes(X, cams)
    shape = (len(cams.K), X.shape[0], X.shape[1])
    return torch.stack([u, v], -1).reshape(*shape, 2), z.reshape(shape)


def project_planes(X: torch.Tensor, cams: RigArrays) -> tuple:
    """:func:`project_points` with each coordinate a contiguous plane (the lens model then
    runs over contiguous memory: several times faster on a CPU than over the interleaved
    (..., 2) and (..., 3) layouts).

    Args:
        X: (F, K, 3) world metres. cams: as :func:`project_points`.
    Returns:
        u, v: (C, F K) pixels; z: (C, F K) depth, metres (point ``f K + k``).
    """
    Xp = X.reshape(-1, 3).T                                                  # (3, F K)
    Xc = torch.matmul(cams.R_cam_from_world, Xp) + cams.t_cam_from_world[:, :, None]
    x, y, z = Xc.unbind(1)                                                   # (C, F K)
    zs = torch.where(z.abs() > 1e-6, z, torch.full_like(z, 1e-6))
    coeffs, fisheye = _lens_terms(cams, 1)
    xd, yd = distort(x / zs, y / zs, coeffs, fisheye=fisheye)
    K = cams.K
    return K[:, 0, 0, None] * xd + K[:, 0, 2, None], K[:, 1, 1, None] * yd + K[:, 1, 2, None], z


def _lens_terms(cams: RigArrays, ndim: int):
    """The lens coefficients and fisheye flags of :func:`calibration.lens.distort` for (C, ...)
    points with ``ndim`` axes after C: rows that are zero for every camera as ``0.0`` (the
    model then skips their terms without looking at them; unless the coefficients require a
    gradient), the fisheye flags as one bool when every camera agrees, else the (C, 1, ...)
    mask.

    The reprojection term runs at every step of the fit with the same cameras, so these are
    made once per :class:`~calibration.RigArrays` (one device sync; the arrays are frozen and
    taken as constant) and ``ndim``.
    """
    per_ndim = _LENS_TERMS.setdefault(cams, {})
    if ndim not in per_ndim:
        fe, dist = cams.fisheye, cams.dist
        flags = torch.cat([(dist != 0).any(0) | dist.requires_grad, fe.any()[None],
                           fe.all()[None]]).tolist()
        rows = cams.lens_coefficients(ndim)
        some, every = flags[-2:]
        per_ndim[ndim] = ([rows[i] if flags[i] else 0.0 for i in range(rows.shape[0])],
                          every if some == every else cams.fisheye_mask(ndim))
    return per_ndim[ndim]
