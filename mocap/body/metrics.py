"""Accuracy of a fitted body against the studio's ground truth (pure numpy functions).

Angles in degrees. Flexion angles are measured from joint positions, the same way for the fit
and the truth: knee and elbow flexion is the angle between the two segments that meet there
(0 = straight); hip flexion is the thigh's angle forward of the pelvis's down axis in the
pelvis's sagittal plane.
"""
from __future__ import annotations

import numpy as np

from .model import BodyModel, body_axes

__all__ = ["rotation_error_deg", "flexion_angles_deg", "flexion_rms_deg", "keypoint_mpjpe_mm"]

FLEXION_JOINTS = ("knee", "hip", "elbow")


def keypoint_mpjpe_mm(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean Euclidean error (mm) over the points finite in both; (..., 3) metres."""
    e = 1000.0 * np.linalg.norm(np.asarray(pred) - np.asarray(gt), axis=-1)
    return float(np.nanmean(e)) if np.isfinite(e).any() else float("nan")


def rotation_error_deg(R: np.ndarray, R_gt: np.ndarray) -> np.ndarray:
    """(...) geodesic angle between rotation matrices (..., 3, 3), degrees."""
    rel = np.einsum("...ji,...jk->...ik", R, R_gt)
    cos = np.clip((np.trace(rel, axis1=-2, axis2=-1) - 1) / 2, -1.0, 1.0)
    return np.degrees(np.arccos(cos))


def _angle(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    cos = (u * v).sum(-1) / (np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1))
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def flexion_angles_deg(model: BodyModel, joints: np.ndarray, root_R: np.ndarray) -> dict:
    """Knee, hip and elbow flexion of both sides.

    Args:
        joints: (F, Jb, 3) fitted-joint positions, metres, world. root_R: (F, 3, 3) the root
            rotation (model rest frame -> world).
    Returns:
        {"left_knee": (F,), ...} degrees.
    """
    idx = {c: model.fitted.index(n) for n, c in model.canonical.items()}
    axes = body_axes(model)
    out = {}
    for s in ("left", "right"):
        hip, knee, ankle = (joints[:, idx[f"{s}_{n}"]] for n in ("hip", "knee", "ankle"))
        sh, el, wr = (joints[:, idx[f"{s}_{n}"]] for n in ("shoulder", "elbow", "wrist"))
        out[f"{s}_knee"] = _angle(knee - hip, ankle - knee)
        out[f"{s}_elbow"] = _angle(el - sh, wr - el)
        thigh = np.einsum("fba,fb->fa", root_R, knee - hip) @ axes          # body axes
        out[f"{s}_hip"] = np.degrees(np.arctan2(thigh[:, 0], -thigh[:, 2]))
    return out


def flexion_rms_deg(model: BodyModel, joints: np.ndarray, root_R: np.ndarray,
                    gt_joints: np.ndarray, gt_root_R: np.ndarray) -> dict:
    """RMS flexion error per joint kind (both sides together): {"knee": deg, "hip": deg,
    "elbow": deg}."""
    fit = flexion_angles_deg(model, joints, root_R)
    gt = flexion_angles_deg(model, gt_joints, gt_root_R)
    out = {}
    for kind in FLEXION_JOINTS:
        d = np.concatenate([fit[f"{s}_{kind}"] - gt[f"{s}_{kind}"] for s in ("left", "right")])
        out[kind] = float(np.sqrt(np.nanmean(d ** 2)))
    return out
