"""Left/right swap repair.

Left/right swaps in one view are repaired by testing, per left/right pair and view, the swapped
labelling against the 3D points the other views agree on; swapped detections are relabelled
and the affected joints triangulated again
(:func:`mocap.triangulate.take.triangulate_take`).
"""
from __future__ import annotations

import numpy as np

from .backend import CHUNK
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

    def cost(e):
        # each detection's error capped at 2 tau (fmin: NaN -> the cap), 0 where missing;
        # once for every joint, then the pair's two joints added
        c = np.where(valid, np.fmin(e, cap), 0.0)
        return c[..., l, :] + c[..., r, :]

    cur = cost(err_self)
    alt = cost(err_cross)
    seen = valid[..., l, :] | valid[..., r, :]
    return both & seen & (cur > tau_px) & (alt < ratio * cur)


def cross_errors(g: DltRig, xyz, xy_n, jac, perm, chunk: int = CHUNK, own: bool = True):
    """Errors of each detection against its own joint's point and its mirror's point.

    Args:
        xyz: (N, J, 3); xy_n: (N, J, C, 2); jac: (N, J, C, 2, 2); perm: (J,) mirror joints.
        chunk: points (N J rows) per block: the arithmetic runs block by block so that its
            temporaries stay in the cache (the result does not depend on it).
        own: also the errors against the own joint's point (a triangulation has them
            already: :attr:`mocap.triangulate.points.Triangulation.err_px`, the same numbers
            on the detections used).
    Returns:
        e_self (None without ``own``), e_cross: (N, J, C) pixels.
    """
    N, J, C = xy_n.shape[:3]
    rows = lambda a: a.reshape((N * J,) + a.shape[2:])  # noqa: E731
    pts = (rows(xyz), rows(xyz[:, perm])) if own else (rows(xyz[:, perm]),)
    xy, jc = rows(xy_n), rows(jac)
    out = [np.empty((N * J, C)) for _ in pts]
    for a in range(0, N * J, max(1, chunk)):
        b = min(N * J, a + chunk)
        cols = lambda v: np.ascontiguousarray(v.T)  # noqa: E731
        x, y = cols(xy[a:b, :, 0]), cols(xy[a:b, :, 1])
        jab = [cols(jc[a:b, :, i, j]) for i in (0, 1) for j in (0, 1)]
        for p, o in zip(pts, out):
            with np.errstate(invalid="ignore"):
                e, _ = residuals(g, [p[a:b, k] for k in range(3)], x, y, jab)
            o[a:b] = e.T
    e = [o.reshape(N, J, C) for o in out]
    return (e[0], e[1]) if own else (None, e[0])


def flip_views(xy_n, jac, conf, swapped, pairs, inplace: bool = False):
    """Relabel swapped pairs: (N=F*P, J, C, ...) arrays, swapped (N, K, C). Returns copies,
    or the arrays themselves relabelled with ``inplace`` (a take's arrays are large: a copy
    costs more than the relabelling); only the rows where a pair is swapped are rewritten."""
    if not inplace:
        xy_n, jac, conf = xy_n.copy(), jac.copy(), conf.copy()
    for k, (l, r) in enumerate(pairs):
        rows = np.flatnonzero(swapped[:, k].any(-1))
        if not rows.size:
            continue
        s = swapped[rows, k]                                              # (n, C)
        for a in (xy_n, jac, conf):
            al, ar = a[rows, l], a[rows, r]                               # copies
            m = s.reshape(s.shape + (1,) * (a.ndim - 3))
            a[rows, l] = np.where(m, ar, al)
            a[rows, r] = np.where(m, al, ar)
    return xy_n, jac, conf
