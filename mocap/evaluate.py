"""Accuracy against ground truth (the virtual studio's ``gt.npz``)."""
from __future__ import annotations

import numpy as np

__all__ = ["joint_errors_mm", "mpjpe_mm", "coverage"]


def joint_errors_mm(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Euclidean error per joint in millimetres.

    Args:
        pred, gt: (..., 3) positions in metres (NaN = missing).
    Returns:
        (...) millimetres, NaN where either is missing.
    """
    return 1000.0 * np.linalg.norm(np.asarray(pred) - np.asarray(gt), axis=-1)


def mpjpe_mm(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean per-joint position error over the joints present in both, millimetres."""
    e = joint_errors_mm(pred, gt)
    return float(np.nanmean(e)) if np.isfinite(e).any() else float("nan")


def coverage(pred: np.ndarray, gt: np.ndarray) -> float:
    """Fraction of ground-truth joints that were reconstructed."""
    have = np.isfinite(gt).all(-1)
    return float((np.isfinite(pred).all(-1) & have).sum() / max(have.sum(), 1))
