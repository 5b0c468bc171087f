"""Best rotations between point sets (Kabsch), numpy (weighted) and torch, for the analytic
start of the fit."""
from __future__ import annotations

import numpy as np
import torch

__all__ = ["kabsch", "kabsch_torch"]


def kabsch(src: np.ndarray, dst: np.ndarray, w: np.ndarray) -> np.ndarray:
    """(F, 3, 3) rotations R minimising sum w |R src_c - dst_c|^2 per frame (centred).

    Args:
        src: (K, 3); dst: (F, K, 3); w: (F, K).
    """
    ws = w.sum(1, keepdims=True)[..., None]
    cs = (w[..., None] * src).sum(1, keepdims=True) / ws
    cd = (w[..., None] * dst).sum(1, keepdims=True) / ws
    H = np.einsum("fk,fka,fkb->fab", w, src - cs, dst - cd)
    U, _, Vt = np.linalg.svd(H)
    d = np.sign(np.linalg.det(np.einsum("fba,fcb->fac", Vt, U)))
    D = np.tile(np.eye(3), (len(w), 1, 1))
    D[:, 2, 2] = d
    return np.einsum("fba,fbc,fdc->fad", Vt, D, U)


def kabsch_torch(src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
    """(F, 3, 3) rotations best taking centred ``src`` (K, 3) onto centred ``dst`` (F, K, 3)."""
    a = src - src.mean(0)
    b = dst - dst.mean(1, keepdim=True)
    H = torch.einsum("ka,fkb->fab", a, b)
    U, _, Vh = torch.linalg.svd(H)
    d = torch.sign(torch.linalg.det(Vh.transpose(-1, -2) @ U.transpose(-1, -2)))
    D = torch.diag_embed(torch.stack([torch.ones_like(d), torch.ones_like(d), d], -1))
    return Vh.transpose(-1, -2) @ D @ U.transpose(-1, -2)
