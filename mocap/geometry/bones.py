"""Bone lengths of skeletons: per frame, one robust length per bone over a take, and their
spread.

The one bone-length computation of the package: :mod:`mocap.filter`, the report (per-frame
lengths and :func:`bone_length_stats`), the fit's robust lengths
(:func:`mocap.fit.median_bone_lengths`: a frame counts only where both ends are confident, and
extended frames are preferred, passed as ``frames`` and ``min_frames``) and the re-identification
signature of a track (:func:`mocap.associate.bone_signature`) all use it.
"""
from __future__ import annotations

import warnings

import numpy as np

__all__ = ["bone_lengths", "robust_bone_lengths", "bone_length_stats"]


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


def bone_length_stats(lengths: np.ndarray) -> dict[str, np.ndarray]:
    """Median, spread and coefficient of variation of bone lengths over frames.

    Args:
        lengths: (F, B) metres (NaN = missing), e.g. :func:`bone_lengths` of a take.
    Returns:
        ``median_m``, ``std_m`` (metres), ``cv`` (std / median) and ``count`` (frames seen),
        each (B,); NaN statistics for a bone never seen.
    """
    count = np.isfinite(lengths).sum(0)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        median = np.nanmedian(lengths, 0)
        std = np.nanstd(lengths, 0)
    return {"median_m": median, "std_m": std, "cv": std / median, "count": count}
