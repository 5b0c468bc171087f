"""The torch lens model of the reprojection term: world points through OpenCV pinhole and
fisheye cameras (as :mod:`calibration.camera`), differentiable."""
from __future__ import annotations

import torch

__all__ = ["project_points"]


def project_points(X: torch.Tensor, K: torch.Tensor, dist: torch.Tensor, fisheye: torch.Tensor,
                   R: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Project world points through OpenCV camera models (as :mod:`calibration.camera`).

    Args:
        X: (F, K, 3) world metres. K: (C, 3, 3); dist: (C, 8) (pinhole k1, k2, p1, p2, k3,
            k4, k5, k6; fisheye k1..k4 then zeros); fisheye: (C,) bool; R: (C, 3, 3); t: (C, 3).
    Returns:
        pixels (C, F, K, 2) and depth (C, F, K) metres along each optical axis.
    """
    Xc = torch.einsum("cab,fkb->cfka", R, X) + t[:, None, None, :]
    z = Xc[..., 2]
    zs = torch.where(z.abs() > 1e-6, z, torch.full_like(z, 1e-6))
    x, y = Xc[..., 0] / zs, Xc[..., 1] / zs
    d = dist[:, None, None, :]
    r2 = x * x + y * y
    k1, k2, p1, p2, k3, k4, k5, k6 = (d[..., i] for i in range(8))
    radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
    if bool((dist[:, 5:] != 0).any()):          # the rational model only where it is used
        radial = radial / (1 + r2 * (k4 + r2 * (k5 + r2 * k6)))
    xd = x * radial
    yd = y * radial
    if bool((dist[:, 2:4] != 0).any()):         # tangential terms
        xy2 = 2 * x * y
        xd = xd + p1 * xy2 + p2 * (r2 + 2 * x * x)
        yd = yd + p1 * (r2 + 2 * y * y) + p2 * xy2
    if bool(fisheye.any()):
        r = torch.sqrt(r2 + 1e-12)
        th = torch.atan(r)
        th2 = th * th
        thd = th * (1 + th2 * (k1 + th2 * (k2 + th2 * (p1 + th2 * p2))))
        scale = thd / r
        fe = fisheye[:, None, None]
        xd = torch.where(fe, x * scale, xd)
        yd = torch.where(fe, y * scale, yd)
    u = K[:, None, None, 0, 0] * xd + K[:, None, None, 0, 2]
    v = K[:, None, None, 1, 1] * yd + K[:, None, None, 1, 2]
    return torch.stack([u, v], -1), z
