"""The array namespace of the batched triangulation core.

Every batched core function of :mod:`mocap.triangulate` works on numpy arrays or torch tensors
alike (the torch path runs on a GPU when the tensors are there, and is differentiable); these
helpers pick the namespace of an argument and cover the few calls that differ.
"""
from __future__ import annotations

import numpy as np

__all__ = ["CHUNK", "ns", "filled", "take_along", "copy_array", "index_of"]

# Points per chunk: long enough to hide numpy's per-call cost, short enough for the cache.
CHUNK = 8192


def ns(x):
    """numpy, or torch when ``x`` is a tensor (the batched functions accept either)."""
    if type(x).__module__.startswith("torch"):
        import torch
        return torch
    return np


def filled(a, value: float):
    """An array like ``a`` filled with ``value`` (``0 * a`` would keep a's NaNs)."""
    return ns(a).full_like(a, value)


def take_along(xp, a, idx, axis: int):
    """``take_along_axis`` for numpy and torch."""
    if xp is np:
        return np.take_along_axis(a, idx, axis)
    return xp.take_along_dim(a, idx, dim=axis)


def copy_array(a):
    """A copy of a numpy array or torch tensor."""
    return a.copy() if isinstance(a, np.ndarray) else a.clone()


def index_of(xp, mask):
    """(K,) indices of the True entries of a 1D bool ``mask`` (numpy or torch)."""
    return np.flatnonzero(mask) if xp is np else xp.nonzero(mask)[:, 0]

