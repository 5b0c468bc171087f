"""Detections put on the P axis of people: by the identities of association and tracking
(:func:`detections_by_identity`), or by projecting known 3D keypoints into every view
(:func:`detections_for_points`, for a stage run alone that must pair 2D and 3D again).
"""
from __future__ import annotations

import warnings

import numpy as np

from calibration import Rig

from ..nanstats import nanmedian
from ..types import Detections2D
from .assignment import assignment
from .solve import Association

__all__ = ["slot_identities", "detections_by_identity", "detections_for_points"]

_BIG = 1e6


def slot_identities(assoc: Association, identity: np.ndarray, num_slots: int) -> np.ndarray:
    """The identity of every detection slot.

    Args:
        assoc: slots (F, G, C). identity: (F, G). num_slots: K, the detections' P axis.
    Returns:
        (C, F, K) int, -1 for detections that belong to nobody kept.
    """
    F, G, C = assoc.slots.shape
    out = np.full((C, F, num_slots), -1)
    f, g, c = np.nonzero((assoc.slots >= 0) & (identity >= 0)[..., None])
    out[c, f, assoc.slots[f, g, c]] = identity[f, g]
    return out


def detections_by_identity(det: Detections2D, slot_identity: np.ndarray,
                           num_people: int) -> Detections2D:
    """Reorder detections so that the P axis is the identity.

    Args:
        det: (C, F, K, J) detections in the detector's order.
        slot_identity: (C, F, K) identity of every slot (-1 = nobody).
    Returns:
        Detections2D (C, F, T, J) with T = ``num_people``; NaN / 0 where a person was not
        detected in a camera (heatmaps moved alike, zeros where missing).
    """
    C, F, K, J = det.shape
    T = num_people
    if det.heatmaps is None and T <= K and bool(np.all(
            (slot_identity == np.arange(K)) | (slot_identity < 0))):
        # slot k is identity k wherever it is anyone (one person, or people kept in the
        # detector's order): one masked copy instead of a scatter
        keep = slot_identity[:, :, :T] >= 0
        return det.replace(xy=np.where(keep[..., None, None], det.xy[:, :, :T],
                                       np.nan).astype(np.float64, copy=False),
                           conf=np.where(keep[..., None], det.conf[:, :, :T],
                                         np.float32(0)).astype(np.float32, copy=False))
    xy = np.full((C, F, T, J, 2), np.nan)
    conf = np.zeros((C, F, T, J), np.float32)
    c, f, k = np.nonzero(slot_identity >= 0)
    t = slot_identity[c, f, k]
    xy[c, f, t] = det.xy[c, f, k]
    conf[c, f, t] = det.conf[c, f, k]
    hm = aff = None
    if det.heatmaps is not None:
        hm = np.zeros((C, F, T) + det.heatmaps.shape[3:], det.heatmaps.dtype)
        aff = np.zeros((C, F, T, 2, 3))
        hm[c, f, t] = det.heatmaps[c, f, k]
        aff[c, f, t] = det.heatmap_affine[c, f, k]
    return det.replace(xy=xy, conf=conf, heatmaps=hm, heatmap_affine=aff)


def detections_for_points(det: Detections2D, rig: Rig, xyz: np.ndarray,
                          max_rel: float = 0.15, min_px: float = 20.0) -> Detections2D:
    """The detections reordered so that slot p of every view is the skeleton that person p's
    3D keypoints project onto (for a stage run alone that must pair 2D and 3D again, whatever
    association produced the 3D).

    Per camera and frame, the cost of (person, slot) is the median pixel distance over the
    keypoints both have; one assignment (Hungarian) per camera and frame; a pair further than
    ``max(min_px, max_rel x the person's projected extent)`` is not made (that view then has
    nobody in slot p).

    Args:
        det: (C, F, K, J) detections, the rig's cameras, the keypoint format of ``xyz``.
        xyz: (F, P, J, 3) world keypoints, metres, NaN = missing.
    Returns:
        Detections2D (C, F', P, J), F' = min(F of det, F of xyz); NaN / 0 where unmatched.
    """
    C, F, K, J = det.shape
    F = min(F, xyz.shape[0])
    P = xyz.shape[1]
    slot = np.full((C, F, K), -1)
    for c, cam in enumerate(rig):
        uv = cam.project(xyz[:F].reshape(-1, 3)).reshape(F, P, J, 2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            extent = np.nanmax(uv, axis=2) - np.nanmin(uv, axis=2)                   # (F, P, 2)
            gate = np.fmax(min_px, max_rel * np.nanmax(extent, axis=-1))            # (F, P)
        xy = np.where((det.conf[c, :F] > 0)[..., None], det.xy[c, :F], np.nan)  # (F, K, J, 2)
        d = np.linalg.norm(uv[:, :, None] - xy[:, None], axis=-1)              # (F, P, K, J)
        cost = nanmedian(d, axis=-1)                  # (F, P, K); all-NaN rows: NaN
        for f in np.flatnonzero(np.isfinite(cost).any((1, 2))):
            m = np.where(np.isfinite(cost[f]), cost[f], _BIG)
            rows, cols = assignment(m)
            keep = m[rows, cols] < gate[f, rows]
            slot[c, f, cols[keep]] = rows[keep]
    return detections_by_identity(det.replace(xy=det.xy[:, :F], conf=det.conf[:, :F],
                                              heatmaps=None, heatmap_affine=None), slot, P)
