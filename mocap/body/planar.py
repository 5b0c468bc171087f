"""The fit's forward pass with frames last ("planar" layout): the same numbers as
:func:`mocap.fit.params.rotations` and :func:`mocap.body.regressors.keypoints_forward`, laid
out so that every elementwise step runs over one contiguous run of frames.

A fit evaluates its body thousands of times on small arrays (a window of 600 frames, 20
joints). In the usual layout, (F, J, 3, 3), each matrix entry or coordinate is a stride-3 or
stride-9 slice: the Rodrigues formula, the 3 x 3 products of the kinematic chain and the lens
model then run over strided memory (about 20 x slower per element on a CPU than over a
contiguous run), and ``torch.matmul`` on 12,000 separate 3 x 3 matrices costs more per
matrix than the arithmetic. Here a rotation is nine planes ``R[a, b]`` of shape (..., F)
(the shape (3, 3, ..., F)), a point three planes (3, ..., F), and a 3 x 3 product is one
broadcast multiply and one sum over such planes.

Layouts (every array: frames last):

- rotation vectors (3, J, F), radians; rotations (3, 3, J, F) (``R[a, b, j, f]`` is the
  usual ``R[f, j, a, b]``);
- points (3, J, F) metres;
- keypoints (3, K, F) metres.

Works on any device and dtype; differentiable.
"""
from __future__ import annotations

import functools

import torch

from .kinematics import depth_levels

__all__ = ["rotvec_to_rotmat_planar", "matmul_planar", "apply_planar", "to_planar",
           "from_planar", "forward_kinematics_planar", "posed_keypoints_planar"]

#: Below this squared angle (rad^2) the Rodrigues ratios come from their Taylor series (as
#: :func:`calibration.rotations.rotvec_to_rotmat`).
_SMALL_ANGLE2 = 1e-6


def rotvec_to_rotmat_planar(r: torch.Tensor) -> torch.Tensor:
    """Rotation vectors (3, ...) (axis * angle, radians) -> rotation matrices (3, 3, ...).

    :func:`calibration.rotations.rotvec_to_rotmat` (the same formula and small-angle series)
    with the components first: ``out[a, b]`` is ``R[..., a, b]``.
    """
    x, y, z = r[0], r[1], r[2]
    t2 = x * x + y * y + z * z
    small = t2 < _SMALL_ANGLE2
    safe = torch.where(small, torch.ones_like(t2), t2)
    t = torch.sqrt(safe)
    c = torch.cos(t)
    a = torch.where(small, 1 - t2 / 6, torch.sin(t) / t)
    b = torch.where(small, 0.5 - t2 / 24, (1 - c) / safe)
    c = torch.where(small, 1 - t2 / 2, c)
    bx, by, bz = b * x, b * y, b * z
    ax, ay, az = a * x, a * y, a * z
    return torch.stack([c + bx * x, bx * y - az, bx * z + ay,
                        bx * y + az, c + by * y, by * z - ax,
                        bx * z - ay, by * z + ax, c + bz * z]).reshape(3, 3, *r.shape[1:])


def matmul_planar(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """``A @ B`` for rotations (3, 3, ...) and (3, 3, ...) (broadcast over ``...``): a column
    of A times a row of B, three times (cheaper to differentiate than one broadcast product
    summed over its middle axis)."""
    return A[:, 0:1] * B[0:1] + A[:, 1:2] * B[1:2] + A[:, 2:3] * B[2:3]


def apply_planar(A: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """``A @ v`` for rotations (3, 3, ...) and vectors (3, ...) (broadcast over ``...``)."""
    return A[:, 0] * v[0:1] + A[:, 1] * v[1:2] + A[:, 2] * v[2:3]


def to_planar(x: torch.Tensor, point_axes: int = 1) -> torch.Tensor:
    """(F, ..., *tail) -> (*tail, ..., F) contiguous, ``tail`` the last ``point_axes`` axes
    (1 for points and vectors, 2 for matrices)."""
    n = x.ndim
    tail = list(range(n - point_axes, n))
    return x.permute(*tail, *range(1, n - point_axes), 0).contiguous()


def from_planar(x: torch.Tensor, point_axes: int = 1) -> torch.Tensor:
    """The inverse of :func:`to_planar`: (*tail, ..., F) -> (F, ..., *tail) contiguous."""
    n = x.ndim
    middle = list(range(point_axes, n - 1))
    return x.permute(n - 1, *middle, *range(point_axes)).contiguous()


def forward_kinematics_planar(parents, joints_rest: torch.Tensor, rotmats: torch.Tensor,
                              transl: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`mocap.body.kinematics.forward_kinematics` in the planar layout.

    Args:
        parents: (J,) parent indices, -1 for the root (joint 0), parents before children.
        joints_rest: (J, 3) rest joint positions, metres.
        rotmats: (3, 3, J, F) local rotations, rest-frame axes.
        transl: (3, F) metres added to every posed point.
    Returns:
        positions (3, J, F) metres and global rotations (3, 3, J, F).
    """
    order, inverse, sizes, parent_pos, par = _indices(tuple(int(p) for p in parents),
                                                      rotmats.device)
    off = (joints_rest - joints_rest[par]).T[:, :, None]                     # (3, J, 1)
    R_lv = rotmats.index_select(2, order).split(sizes, 2)
    off_lv = off.index_select(1, order).split(sizes, 1)
    glob = [R_lv[0]]
    pos = [(joints_rest[0][:, None] + transl)[:, None]]                       # (3, 1, F)
    for lv in range(1, len(sizes)):
        pp = parent_pos[lv - 1]
        Gp = glob[-1].index_select(2, pp)
        glob.append(matmul_planar(Gp, R_lv[lv]))
        pos.append(pos[-1].index_select(1, pp) + apply_planar(Gp, off_lv[lv]))
    return (torch.cat(pos, 1).index_select(1, inverse),
            torch.cat(glob, 2).index_select(2, inverse))


@functools.lru_cache(maxsize=64)
def _indices(parents: tuple, device) -> tuple:
    """:func:`depth_levels` and each joint's parent (the root's: itself) as long tensors on
    ``device`` (made once per tree and device: a fit poses the same tree thousands of
    times)."""
    order, inverse, sizes, parent_pos = depth_levels(parents)
    return (torch.as_tensor(order, device=device), torch.as_tensor(inverse, device=device),
            list(sizes), tuple(torch.as_tensor(p, device=device) for p in parent_pos),
            torch.as_tensor([max(p, 0) for p in parents], device=device))


def posed_keypoints_planar(mass: torch.Tensor, parents, J: torch.Tensor, Q: torch.Tensor,
                           rotmats: torch.Tensor, transl: torch.Tensor,
                           ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """:func:`mocap.body.regressors.posed_keypoints` (a model without pose correctives) in
    the planar layout.

    Args:
        mass: (K, J) the keypoints' skinning mass per fitted joint; parents: (J,).
        J: (J, 3) rest fitted joints; Q: (K, J, 3) keypoint moments about them
            (:func:`mocap.body.regressors.shape_moments`), metres.
        rotmats: (3, 3, J, F) local rotations; transl: (3, F) metres.
    Returns:
        joints (3, J, F), keypoints (3, K, F) metres, global rotations (3, 3, J, F).
    """
    pos, glob = forward_kinematics_planar(parents, J, rotmats, transl)
    nj, F = glob.shape[2], glob.shape[3]
    Qp = Q.permute(0, 2, 1).reshape(Q.shape[0], 3 * nj)                       # [k, b J + j]
    kp = torch.matmul(mass, pos) + torch.matmul(Qp, glob.reshape(3, 3 * nj, F))
    return pos, kp, glob
