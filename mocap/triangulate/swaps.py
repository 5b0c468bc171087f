"""Left/right swap repair.

Left/right swaps in one view are repaired by testing, per left/right pair and view, the swapped
labelling against the 3D points the other views agree on; swapped detections are relabelled
and the affected joints triangulated again
(:func:`mocap.triangulate.take.triangulate_take`).
"""
from __future__ import annotations

import numpy as np

from .dlt import DltRig, residuals

__all__ = ["repair_swaps", "cross_errors", "flip_views"]


def repair_swaps(xyz: np.ndarray, err_self: np.ndarray, err_cross: np.ndarray,
                 valid: np.ndarray, lr_pairs, tau_px: float, ratio: float = 0.5) -> np.ndarray:
    """Decide which left/right pairs are swapped in which view.

    For a pair (l, r) in view c the current labelling costs ``min(e(l->X_l), 2 tau) +
    min(e(r->X_r), 2 tau)`` over the detections present, the swapped one the same with
    ``X_l`` and ``X_r`` exchanged. A pair is swapped when the current labelling is
    inconsistent (cost above ``tau``) and the swapped one costs less than ``ratio`` times it.

    Args:
        xyz: (..., J, 3) the 3D points the views agree on (NaN = unknown).
        err_self: (..., J, C) pixels, each detection against its own joint's point.
        err_cross: (..., J, C) pixels, each detection against its mirror joint's point.
        valid: (..., J, C) bool, detections present.
        lr_pairs: (K, 2) (left index, right index).
    Returns:
        (..., K, C) bool, True where the pair is swapped in that view.
    """
    pairs = np.asarray(lr_pairs, int).reshape(-1, 2)
    l, r = pairs[:, 0], pairs[:, 1]
    known = np.isfinite(xyz).all(-1)
    both = (known[..., l] & known[..., r])[..., None]
    cap = 2.0 * tau_px

    def cost(e, jl, jr):
        el = np.where(valid[..., jl, :], np.minimum(np.nan_to_num(e[..., jl, :], nan=cap), cap), 0)
        er = np.where(valid[..., jr, :], np.minimum(np.nan_to_num(e[..., jr, :], nan=cap), cap), 0)
        return el + er

    cur = cost(err_self, l, r)
    alt = cost(err_cross, l, r)
    seen = valid[..., l, :] | valid[..., r, :]
    return both & seen & (cur > tau_px) & (alt < ratio * cur)


def cross_errors(g: DltRig, xyz, xy_n, jac, perm):
    """Errors of each detection against its own joint's point and its mirror's point.

    Args:
        xyz: (N, J, 3); xy_n: (N, J, C, 2); jac: (N, J, C, 2, 2); perm: (J,) mirror joints.
    Returns:
        e_self, e_cross: (N, J, C) pixels.
    """
    N, J, C = xy_n.shape[:3]
    mv = lambda a: np.moveaxis(a, 2, 0).reshape(C, N * J)  # noqa: E731
    x, y = mv(xy_n[..., 0]), mv(xy_n[..., 1])
    jc = [mv(jac[..., i, j]) for i in (0, 1) for j in (0, 1)]
    out = []
    for pts in (xyz, xyz[:, perm]):
        X = [pts[..., k].reshape(N * J) for k in range(3)]
        with np.errstate(invalid="ignore"):
            e, _ = residuals(g, X, x, y, jc)
        out.append(np.moveaxis(e.reshape(C, N, J), 0, 2))
    return out[0], out[1]


def flip_views(xy_n, jac, conf, swapped, pairs):
    """Relabel swapped pairs: (N=F*P, J, C, ...) arrays, swapped (N, K, C)."""
    xy_n, jac, conf = xy_n.copy(), jac.copy(), conf.copy()
    for k, (l, r) in enumerate(pairs):
        s = swapped[:, k]                                                 # (N, C)
        if not s.any():
            continue
        for a in (xy_n, jac, conf):
            al, ar = a[:, l].copy(), a[:, r].copy()
            a[:, l] = np.where(s.reshape(s.shape + (1,) * (a.ndim - 3)), ar, al)
            a[:, r] = np.where(s.reshape(s.shape + (1,) * (a.ndim - 3)), al, ar)
    return xy_n, jac, conf
