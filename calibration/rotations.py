"""Rotations of the whole project: Rodrigues vectors <-> matrices, and weighted Kabsch.

Every function takes numpy arrays or torch tensors (picked from the argument's type; torch is
imported only when a tensor comes in) and keeps the batch axes.

Conventions:

- A Rodrigues vector (rotation vector) is ``axis * angle``, radians, as OpenCV's
  ``cv2.Rodrigues`` and ``scipy.spatial.transform.Rotation.from_rotvec`` read it; the matrix
  ``R`` rotates column vectors, ``x' = R @ x``.
- numpy (float64) follows ``scipy.spatial.transform.Rotation``'s algorithm (through unit
  quaternions, its Taylor series near the identity) written out in numpy, so that loading a
  calibration does not import scipy (about 0.25 s); torch is written out (any dtype, kept) and
  differentiable everywhere, the angle 0 included.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from calibration.errors import ShapeError
from calibration.shapes import last_axis, last_two_axes

#: Largest tolerated ``max |R R^T - I|`` for a rotation matrix.
ROTATION_TOL = 1e-6
#: Below this squared angle (rad^2) the torch Rodrigues formula uses its Taylor series.
_SMALL_ANGLE2 = 1e-6


def _is_tensor(x) -> bool:
    return type(x).__module__.startswith("torch")


def _check_torch(name: str, x, tail: tuple[int, ...]) -> None:
    if x.ndim < len(tail) or tuple(x.shape[-len(tail):]) != tail:
        want = ", ".join(map(str, tail))
        raise ShapeError(f"{name}: expected shape (..., {want}), found {tuple(x.shape)}")


# ----------------------------------------------------------------------------- Rodrigues


def rotvec_to_rotmat(rvec: Any):
    """Rodrigues vectors (..., 3) (axis * angle, radians) -> rotation matrices (..., 3, 3).

    numpy (float64, scipy's quaternion algorithm: :func:`_rotvec_to_rotmat_np`) or torch
    (dtype kept): ``cos t I + sin t / t [r]x +
    (1 - cos t) / t^2 r r^T``; below 1e-3 rad the two ratios come from their Taylor series, so
    that value and gradient stay exact and finite at zero (where ``t = |r|`` has no
    derivative).
    """
    if not _is_tensor(rvec):
        r = last_axis("rvec", rvec, 3)
        return _rotvec_to_rotmat_np(np.asarray(r, np.float64))
    import torch

    _check_torch("rvec", rvec, (3,))
    x, y, z = rvec.unbind(-1)
    t2 = x * x + y * y + z * z
    small = t2 < _SMALL_ANGLE2
    t = torch.sqrt(torch.where(small, torch.ones_like(t2), t2))
    c = torch.cos(t)
    a = torch.where(small, 1 - t2 / 6, torch.sin(t) / t)
    b = torch.where(small, 0.5 - t2 / 24, (1 - c) / torch.where(small, torch.ones_like(t2), t2))
    c = torch.where(small, 1 - t2 / 2, c)
    bx, by, bz = b * x, b * y, b * z
    ax, ay, az = a * x, a * y, a * z
    return torch.stack([c + bx * x, bx * y - az, bx * z + ay,
                        bx * y + az, c + by * y, by * z - ax,
                        bx * z - ay, by * z + ax, c + bz * z], -1).reshape(*rvec.shape, 3)


def rotmat_to_rotvec(R: Any):
    """Rotation matrices (..., 3, 3) -> Rodrigues vectors (..., 3), angle in [0, pi] radians.

    numpy (float64: :func:`_rotmat_to_rotvec_np`) or torch (dtype kept; scipy's algorithm: the
    quaternion from the largest of the trace and the diagonal, then its angle; Taylor series
    of ``angle / |v|`` near the identity, so the gradient is finite there).
    """
    if not _is_tensor(R):
        m = last_two_axes("R", R, (3, 3))
        return _rotmat_to_rotvec_np(np.asarray(m, np.float64))
    _check_torch("R", R, (3, 3))
    return _quat_to_rotvec_torch(_rotmat_to_quat_torch(R))


def _rotvec_to_rotmat_np(r: np.ndarray) -> np.ndarray:
    """(..., 3) -> (..., 3, 3), float64: scipy's ``from_rotvec`` then ``as_matrix`` (the unit
    quaternion ``(sin(t/2) / t r, cos(t/2))``, its Taylor series at or below 1e-3 rad)."""
    t = np.sqrt((r * r).sum(-1, keepdims=True))
    small = t <= 1e-3
    t2 = t * t
    with np.errstate(divide="ignore", invalid="ignore"):       # NaN or inf in, NaN out
        scale = np.where(small, 0.5 - t2 / 48 + t2 * t2 / 3840, np.sin(t / 2) / t)
        w = np.cos(t / 2)[..., 0]
    x, y, z = np.moveaxis(r * scale, -1, 0)
    x2, y2, z2, w2 = x * x, y * y, z * z, w * w
    xy, zw, xz, yw, yz, xw = x * y, z * w, x * z, y * w, y * z, x * w
    m = np.stack([x2 - y2 - z2 + w2, 2 * (xy - zw), 2 * (xz + yw),
                  2 * (xy + zw), -x2 + y2 - z2 + w2, 2 * (yz - xw),
                  2 * (xz - yw), 2 * (yz + xw), -x2 - y2 + z2 + w2], -1)
    return m.reshape(r.shape[:-1] + (3, 3))


def _rotmat_to_rotvec_np(m: np.ndarray) -> np.ndarray:
    """(..., 3, 3) -> (..., 3), float64: scipy's ``from_matrix`` (a matrix that is not
    orthonormal to 1e-12 replaced by the nearest rotation, ``U V^T`` of its SVD; the
    quaternion from the largest of the trace and the diagonal) then ``as_rotvec``."""
    m = m.copy()
    gram = m @ m.swapaxes(-1, -2)
    skew = ~(np.abs(gram - np.eye(3)) <= 1e-12 + 1e-5 * np.eye(3)).all((-2, -1))
    if skew.any():
        U, _, Vt = np.linalg.svd(m[skew])
        m[skew] = U @ Vt
    q = _rotmat_to_quat_np(m)
    q = np.where(q[..., 3:] < 0, -q, q)
    n = np.sqrt((q[..., :3] * q[..., :3]).sum(-1, keepdims=True))
    angle = 2 * np.arctan2(n, q[..., 3:])
    small = angle <= 1e-3
    a2 = angle * angle
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(small, 2 + a2 / 12 + 7 * a2 * a2 / 2880, angle / np.sin(angle / 2))
    return scale * q[..., :3]


def _rotmat_to_quat_np(m: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotations -> unit quaternions (..., 4) ``(x, y, z, w)`` (scipy's choice)."""
    tr = m[..., 0, 0] + m[..., 1, 1] + m[..., 2, 2]
    choice = np.stack([m[..., 0, 0], m[..., 1, 1], m[..., 2, 2], tr], -1).argmax(-1)
    q = np.empty(m.shape[:-2] + (4,))
    for i in range(3):                       # led by the diagonal entry i
        j, k = (i + 1) % 3, (i + 2) % 3
        sel = choice == i
        q[sel, i] = 1 - tr[sel] + 2 * m[sel, i, i]
        q[sel, j] = m[sel, j, i] + m[sel, i, j]
        q[sel, k] = m[sel, k, i] + m[sel, i, k]
        q[sel, 3] = m[sel, k, j] - m[sel, j, k]
    sel = choice == 3                        # led by the trace
    q[sel, 0] = m[sel, 2, 1] - m[sel, 1, 2]
    q[sel, 1] = m[sel, 0, 2] - m[sel, 2, 0]
    q[sel, 2] = m[sel, 1, 0] - m[sel, 0, 1]
    q[sel, 3] = 1 + tr[sel]
    return q / np.sqrt((q * q).sum(-1, keepdims=True))


def _rotmat_to_quat_torch(m):
    """(..., 3, 3) -> unit quaternions (..., 4) ``(x, y, z, w)`` (Shepperd / scipy)."""
    import torch

    m00, m01, m02 = m[..., 0, 0], m[..., 0, 1], m[..., 0, 2]
    m10, m11, m12 = m[..., 1, 0], m[..., 1, 1], m[..., 1, 2]
    m20, m21, m22 = m[..., 2, 0], m[..., 2, 1], m[..., 2, 2]
    tr = m00 + m11 + m22
    cands = torch.stack([
        torch.stack([1 + 2 * m00 - tr, m01 + m10, m02 + m20, m21 - m12], -1),
        torch.stack([m01 + m10, 1 + 2 * m11 - tr, m12 + m21, m02 - m20], -1),
        torch.stack([m02 + m20, m12 + m21, 1 + 2 * m22 - tr, m10 - m01], -1),
        torch.stack([m21 - m12, m02 - m20, m10 - m01, 1 + tr], -1),
    ], -2)  # (..., 4, 4): row i the candidate led by the i-th of (m00, m11, m22, tr)
    choice = torch.stack([m00, m11, m22, tr], -1).argmax(-1)
    q = torch.take_along_dim(cands, choice[..., None, None].expand(*choice.shape, 1, 4), -2)[..., 0, :]
    return q / torch.linalg.vector_norm(q, dim=-1, keepdim=True)


def _quat_to_rotvec_torch(q):
    """Unit quaternions (..., 4) ``(x, y, z, w)`` -> Rodrigues vectors (..., 3)."""
    import torch

    q = torch.where(q[..., 3:] < 0, -q, q)
    v, w = q[..., :3], q[..., 3]
    n2 = (v * v).sum(-1)
    small = n2 < _SMALL_ANGLE2
    n = torch.sqrt(torch.where(small, torch.ones_like(n2), n2))
    ws = torch.where(small, w, torch.ones_like(w))  # w ~ 1 there
    s2 = n2 / (ws * ws)  # tan^2 of the half angle
    series = 2 / ws * (1 - s2 / 3 + s2 * s2 / 5)  # 2 atan(s) / |v| = 2 / w (1 - s^2/3 + s^4/5)
    factor = torch.where(small, series, 2 * torch.atan2(n, w) / n)
    return v * factor[..., None]


def rotation_defect(R: np.ndarray) -> tuple[float, float]:
    """``(max |R R^T - I|, det R)`` of one (3, 3) matrix: a rotation has (about) ``(0, 1)``
    (see :data:`ROTATION_TOL`)."""
    off = float(np.max(np.abs(R @ R.T - np.eye(3))))
    return off, float(np.linalg.det(R))


# ----------------------------------------------------------------------------- Kabsch


def kabsch(src: Any, dst: Any, weights: Any = None):
    """Rotations best taking centred ``src`` onto centred ``dst`` (weighted least squares).

    Minimises ``sum_k w_k |R (src_k - c_src) - (dst_k - c_dst)|^2`` with ``c`` the weighted
    centroids (plain means without weights), by the SVD of the cross-covariance with the
    reflection removed.

    Args:
        src: (..., K, 3) points (e.g. a rest pose (K, 3)); dst: (..., K, 3) points; their
            batch axes broadcast (numpy arrays or torch tensors, one kind for all).
        weights: (..., K) non-negative weights, or None (all equal).

    Returns:
        (..., 3, 3) rotations ``R`` (the broadcast batch axes).
    """
    torch_ = _is_tensor(dst)
    if torch_:
        import torch

        xp, linalg, keep = torch, torch.linalg, "keepdim"
    else:
        xp, linalg, keep = np, np.linalg, "keepdims"
    if weights is None:
        a = src - src.mean(-2, **{keep: True})
        b = dst - dst.mean(-2, **{keep: True})
        H = xp.einsum("...ka,...kb->...ab", a, b)
    else:
        ws = weights.sum(-1, **{keep: True})[..., None]
        cs = (weights[..., None] * src).sum(-2, **{keep: True}) / ws
        cd = (weights[..., None] * dst).sum(-2, **{keep: True}) / ws
        H = xp.einsum("...k,...ka,...kb->...ab", weights, src - cs, dst - cd)
    U, _, Vt = linalg.svd(H)
    V, Ut = Vt.swapaxes(-1, -2), U.swapaxes(-1, -2)
    d = xp.sign(linalg.det(V @ Ut))
    one = xp.ones_like(d)
    diag = xp.stack([one, one, d], -1)
    return (V * diag[..., None, :]) @ Ut
