"""Bone lengths of skeletons: per frame, and one robust length per bone over a take.

The one bone-length computation of the package: :mod:`mocap.filter` uses it; the report's
``bone_lengths`` / ``bone_length_stats`` and the fit's robust lengths (which count a frame only
where both ends are confident and prefer extended frames) can be written on it: pass their
frame selection as ``frames`` and their minimum count as ``min_frames``.
"""
from __future__ import annotations

import warnings

import numpy as np

__all__ = ["bone_lengths", "robust_bone_lengths"]


def bone_lengths(xyz: np.ndarray, bones: np.ndarray) -> np.ndarray:
    """Lengths of bones.

    Args:
        xyz: (..., J, 3) points, metres. bones: (B, 2) (parent, child) joint indices.
    Returns:
        (..., B) metres, NaN where an end is missing.
    """
    b = np.asarray(bones, int).reshape(-1, 2)
    return np.linalg.norm(xyz[..., b[:, 1], :] - xyz[..., b[:, 0], :], axis=-1)


def robust_bone_lengths(xyz: np.ndarray, bones: np.ndarray,
                        frames: "np.ndarray | None" = None, min_frames: int = 1) -> np.ndarray:
    """One length per bone and person: the median over the frames where both ends exist.

    Args:
        xyz: (F, ..., J, 3) points over time, metres (e.g. (F, P, J, 3)).
        bones: (B, 2) joint indices.
        frames: optional bool mask of the frames to count, broadcastable to (F, ..., B)
            (e.g. (F, 1) for whole frames, (F, B) per bone); None counts every frame.
        min_frames: fewest counted frames with both ends for a length (else NaN).
    Returns:
        (..., B) metres, NaN for a bone seen whole in fewer than ``min_frames`` counted frames
        (never seen whole, with the default).
    """
    lengths = bone_lengths(xyz, bones)
    if frames is not None:
        lengths = np.where(frames, lengths, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        median = np.nanmedian(lengths, axis=0)
    if min_frames > 1:
        median = np.where(np.isfinite(lengths).sum(0) >= min_frames, median, np.nan)
    return median
