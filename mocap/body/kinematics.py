"""Forward kinematics of a joint tree, one implementation for numpy arrays and torch tensors.

Convention (the body models', :mod:`exporters.skeleton`'s and the simulator's): one *local*
rotation per joint in the rest frame's axes,

    G_j = G_parent @ R_j        pos_j = pos_parent + G_parent @ offset_j

with ``offset_j = J_j - J_parent`` the rest offset from the parent (metres). Two entry
points, the same computation:

- :func:`forward_kinematics` from rest joint *positions* ``J`` (the body models'): the root
  turns about its rest joint and ``transl`` moves the whole body, so the posed root sits at
  ``J_root + transl`` (as in smplx and AMASS);
- :func:`chain_kinematics` from rest *offsets* (the simulator's): the root sits at
  ``root_pos``, optionally turned by ``root_rotation`` before its own local rotation.

Joints of one depth are posed together (one batched product per level of the tree). The
backend follows the rotations: numpy in, numpy out; torch in, torch out (differentiable, on
the rotations' device). torch is imported only when tensors come in, so the numpy path (the
simulator's, on the ``mocap --help`` path) stays free of it.
"""
from __future__ import annotations

import functools

import numpy as np

__all__ = ["forward_kinematics", "chain_kinematics", "depth_levels"]


@functools.lru_cache(maxsize=64)
def depth_levels(parents: "tuple[int, ...]") -> tuple:
    """The joints grouped by depth in the tree.

    Args:
        parents: (J,) parent indices, -1 for the root (joint 0), parents before children.
    Returns:
        order (J,) int array (joints by depth, then index), inverse (J,) (its inverse
        permutation), the number of joints per level, and for each level below the root's the
        position of each joint's parent within the level above (int arrays, in ``order``).
    """
    depth = []
    for p in parents:
        depth.append(0 if p < 0 else depth[p] + 1)
    order = sorted(range(len(parents)), key=lambda j: (depth[j], j))
    levels = [[j for j in order if depth[j] == d] for d in range(max(depth) + 1)]
    where = {j: levels[depth[j]].index(j) for j in order}
    parent_pos = tuple(np.asarray([where[parents[j]] for j in lv], np.int64) for lv in levels[1:])
    return (np.asarray(order, np.int64), np.argsort(order), tuple(len(lv) for lv in levels),
            parent_pos)


class _NumpyOps:
    """The few array operations the kinematics needs, for numpy."""

    @staticmethod
    def indices(parents: "tuple[int, ...]", like) -> tuple:
        order, inverse, sizes, parent_pos = depth_levels(parents)
        return order, inverse, sizes, parent_pos, np.asarray([max(p, 0) for p in parents])

    @staticmethod
    def take(x, index, axis: int):
        return np.take(x, index, axis=axis)

    @staticmethod
    def split(x, sizes, axis: int):
        return np.split(x, np.cumsum(sizes)[:-1], axis=axis)

    @staticmethod
    def cat(xs, axis: int):
        return np.concatenate(xs, axis=axis)

    @staticmethod
    def expand(x, shape):
        return np.broadcast_to(x, shape)

    @staticmethod
    def apply(G, v):
        """``G @ v`` for rotations (..., 3, 3) and vectors (..., 3)."""
        return np.einsum("...ab,...b->...a", G, v)


@functools.lru_cache(maxsize=64)
def _torch_indices(parents: "tuple[int, ...]", device) -> tuple:
    """:func:`depth_levels` and the parent of each joint (the root's: itself) as long tensors
    on ``device``."""
    import torch  # lazy: the numpy path must not import torch

    order, inverse, sizes, parent_pos = depth_levels(parents)
    return (torch.as_tensor(order).to(device), torch.as_tensor(inverse).to(device), sizes,
            tuple(torch.as_tensor(pp).to(device) for pp in parent_pos),
            torch.as_tensor([max(p, 0) for p in parents], device=device))


class _TorchOps:
    """The same operations for torch tensors."""

    @staticmethod
    def indices(parents: "tuple[int, ...]", like) -> tuple:
        return _torch_indices(parents, like.device)

    @staticmethod
    def take(x, index, axis: int):
        return x.index_select(axis, index)

    @staticmethod
    def split(x, sizes, axis: int):
        return x.split(sizes, dim=axis)

    @staticmethod
    def cat(xs, axis: int):
        import torch

        return torch.cat(xs, axis)

    @staticmethod
    def expand(x, shape):
        return x.expand(*shape)

    @staticmethod
    def apply(G, v):
        return (G @ v[..., None])[..., 0]


def _ops(x):
    return _NumpyOps if isinstance(x, np.ndarray) else _TorchOps


def _pose(ops, index: tuple, off, rotmats, root_pos, root_rotation=None) -> tuple:
    """Positions and global rotations, level by level (see the module's docstring).

    Args:
        index: ``ops.indices(parents, rotmats)``. off: (..., J, 3) rest offsets from the
            parents (the root's unused). rotmats: (..., J, 3, 3). root_pos: (..., 1, 3) where
            the root sits. root_rotation: None or (..., 1, 3, 3) applied before the root's.
    """
    order, inverse, sizes, parent_pos, _ = index
    R_lv = ops.split(ops.take(rotmats, order, -3), sizes, -3)
    off_lv = ops.split(ops.take(off, order, -2), sizes, -2)
    glob = [R_lv[0] if root_rotation is None else root_rotation @ R_lv[0]]
    pos = [ops.expand(root_pos, (*R_lv[0].shape[:-2], 3))]
    for lv in range(1, len(sizes)):
        pp = parent_pos[lv - 1]
        Gp = ops.take(glob[-1], pp, -3)
        glob.append(Gp @ R_lv[lv])
        pos.append(ops.take(pos[-1], pp, -2) + ops.apply(Gp, off_lv[lv]))
    return ops.take(ops.cat(pos, -2), inverse, -2), ops.take(ops.cat(glob, -3), inverse, -3)


def forward_kinematics(parents, joints_rest, rotmats, transl) -> tuple:
    """Posed joints from local rotations and rest joint positions (numpy or torch alike).

    Args:
        parents: (J,) parent indices, -1 for the root (joint 0), parents before children.
        joints_rest: (..., J, 3) rest joint positions, metres (broadcast against the batch).
        rotmats: (..., J, 3, 3) local rotations, rest-frame axes.
        transl: (..., 3) metres added to every posed point.
    Returns:
        positions (..., J, 3) metres and global rotations (..., J, 3, 3), of the rotations'
        kind (numpy arrays or torch tensors on their device).
    """
    ops = _ops(rotmats)
    index = ops.indices(tuple(int(p) for p in parents), rotmats)
    off = joints_rest - ops.take(joints_rest, index[4], -2)                  # (..., J, 3)
    root_pos = joints_rest[..., :1, :] + transl[..., None, :]
    return _pose(ops, index, off, rotmats, root_pos)


def chain_kinematics(parents, offsets, rotmats, root_pos, root_rotation=None) -> tuple:
    """Posed joints from local rotations and rest offsets (numpy or torch alike).

    Args:
        parents: (J,) parent indices, -1 for the root (joint 0), parents before children.
        offsets: (..., J, 3) rest offsets from the parent joint, metres (the root's unused).
        rotmats: (..., J, 3, 3) local rotations, rest-frame axes.
        root_pos: (..., 3) where the root joint sits, metres.
        root_rotation: optional (..., 3, 3) orientation of the root in the world, applied
            before the root's local rotation (``G_root = root_rotation @ R_root``).
    Returns:
        positions (..., J, 3) metres and global rotations (..., J, 3, 3), as
        :func:`forward_kinematics`.
    """
    ops = _ops(rotmats)
    index = ops.indices(tuple(int(p) for p in parents), rotmats)
    turn = None if root_rotation is None else root_rotation[..., None, :, :]
    return _pose(ops, index, offsets, rotmats, root_pos[..., None, :], turn)
