"""Which detection slots of two cameras are the same person, frame by frame, before the cameras
are known to be synchronous: sync compares a person's motion in one camera with the same
person's motion in another, never with someone else's.

With the calibration (:func:`geometric_links`): the epipolar consistency of the two skeletons
(:func:`mocap.associate.pair_distances`: the mean distance between their joints' world rays,
metres), linked where the pair is mutually the closest, within a gate loose enough for the
offsets searched, and unambiguous (the runner-up in its row and column is clearly further:
two people lined up along the epipolar line are left out rather than guessed). Without it
(:func:`motion_links`): slots paired by how well their motion correlates at its best lag,
one assignment per camera pair; weaker (two people walking in step correlate with each other
almost as well as with themselves), so the result is only as good as the zero test of
:mod:`mocap.sync.estimate` lets it be.

Shapes: C cameras, F frames, K slots per camera. A link array is (F, K, K) bool, entry
``[f, k, l]``: slot k of the first camera and slot l of the second show one person in frame f.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from calibration import Rig

from ..associate.geometry import detection_rays, pair_distances
from ..types import Detections2D
from .signals import MIN_OVERLAP, lag_correlations

__all__ = ["LINK_GATE_M", "geometric_links", "motion_links", "present"]

#: Largest mean ray-to-ray distance (metres) of one person in two cameras: a person's joints
#: move up to about half a metre over the largest offsets searched (10 frames of a brisk walk).
LINK_GATE_M = 0.5
_CAP_M = 1.0           # per-joint clip of the distance, metres
_RUNNER_UP = 2.0       # the next candidate must be at least this many times further ...
_RUNNER_UP_M = 0.15    # ... and this much further (metres)
_CHUNK = 512           # frames per distance block (memory)
_RAY_BLOCK = 4096      # frames whose rays are held at once (memory)


def present(det: Detections2D, min_conf: float, min_joints: int = 5) -> np.ndarray:
    """(C, F, K) bool: the slot holds a skeleton with ``min_joints`` confident joints."""
    return (det.conf >= min_conf).sum(-1) >= min_joints


def _unambiguous(D: np.ndarray, gate_m: float) -> np.ndarray:
    """(F, K, K) bool: pairs mutually closest, within the gate, with no close runner-up.

    Args:
        D: (F, K, K) distances, metres, NaN where unknown.
    """
    D = np.where(np.isfinite(D), D, np.inf)
    row_min = D.min(2, keepdims=True)
    col_min = D.min(1, keepdims=True)
    best = (D <= gate_m) & (D == row_min) & (D == col_min)
    K = D.shape[1]
    if K == 1:
        return best
    srt_r = np.sort(D, axis=2)[:, :, 1:2]                                  # runner-up in row
    srt_c = np.sort(D, axis=1)[:, 1:2, :]                                  # runner-up in column
    far = np.minimum(srt_r, srt_c) >= np.maximum(_RUNNER_UP * D, D + _RUNNER_UP_M)
    return best & far


def geometric_links(det: Detections2D, rig: Rig, min_conf: float,
                    gate_m: float = LINK_GATE_M) -> dict:
    """Slot links of every camera pair from the calibration (see the module's notes).

    Args:
        det: (C, F, K, J) detections in the rig's camera order.
        rig: the calibrated cameras.
        min_conf: joints below this confidence are ignored.
    Returns:
        {(c, d): (F, K, K) bool} for every pair c < d.
    """
    C, F, K = det.xy.shape[:3]
    out = {(c, d): [] for c in range(C) for d in range(c + 1, C)}
    for s0 in range(0, F, _RAY_BLOCK):      # rays of a block of frames at a time (memory)
        sl = slice(s0, min(s0 + _RAY_BLOCK, F))
        rays = detection_rays(rig, det.replace(xy=det.xy[:, sl], conf=det.conf[:, sl],
                                               heatmaps=None, heatmap_affine=None),
                              min_conf=min_conf)
        for (c, d), blocks in out.items():
            blocks += [_unambiguous(pair_distances(rays, c, d, slice(s, s + _CHUNK), _CAP_M),
                                    gate_m) for s in range(0, sl.stop - s0, _CHUNK)]
    return {p: np.concatenate(b) if b else np.zeros((0, K, K), bool) for p, b in out.items()}


def motion_links(speeds: np.ndarray, alive: np.ndarray, max_lag: int) -> dict:
    """Slot links of every camera pair from motion alone (no calibration).

    Every (slot of c, slot of d) pair's correlation curve over the lags searched; one
    assignment per camera pair maximises the summed peaks; a chosen pair is linked in the
    frames both slots hold someone. A camera pair with one slot each is linked wherever both
    are present.

    Args:
        speeds: (C, K, J, F) signals (:func:`mocap.sync.signals.joint_speeds`).
        alive: (C, F, K) bool, the slot holds a person.
        max_lag: lags searched, frames.
    Returns:
        {(c, d): (F, K, K) bool} for every pair c < d.
    """
    C, K = speeds.shape[:2]
    F = alive.shape[1]
    used = alive.any(1)                                                     # (C, K)
    out = {}
    for c in range(C):
        for d in range(c + 1, C):
            peak = np.full((K, K), -np.inf)
            for k in np.flatnonzero(used[c]):
                for l in np.flatnonzero(used[d]):
                    curve = lag_correlations(speeds[c, k], speeds[d, l], max_lag, MIN_OVERLAP)
                    if np.isfinite(curve).any():
                        peak[k, l] = np.nanmax(curve)
            links = np.zeros((F, K, K), bool)
            if np.isfinite(peak).any():
                rows, cols = linear_sum_assignment(np.where(np.isfinite(peak), -peak, 1e6))
                for k, l in zip(rows, cols):
                    if np.isfinite(peak[k, l]) and peak[k, l] > 0:
                        links[:, k, l] = alive[c, :, k] & alive[d, :, l]
            out[(c, d)] = links
    return out
