"""The projection of the reprojection term: world points through the cameras' lens model
(:func:`calibration.lens.distort`, OpenCV pinhole and fisheye), differentiable, with the fit's
own depth handling."""
from __future__ import annotations

import weakref

import torch

from calibration import RigArrays
from calibration.lens import distort

__all__ = ["project_points"]

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
    Xc = torch.einsum("cab,fkb->cfka", cams.R_cam_from_world, X) + \
        cams.t_cam_from_world[:, None, None, :]
    z = Xc[..., 2]
    zs = torch.where(z.abs() > 1e-6, z, torch.full_like(z, 1e-6))
    coeffs, fisheye = _lens_terms(cams, 2)
    xd, yd = distort(Xc[..., 0] / zs, Xc[..., 1] / zs, coeffs, fisheye=fisheye)
    K = cams.K
    u = K[:, None, None, 0, 0] * xd + K[:, None, None, 0, 2]
    v = K[:, None, None, 1, 1] * yd + K[:, None, None, 1, 2]
    return torch.stack([u, v], -1), z


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
