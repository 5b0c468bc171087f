"""What the report computes, in memory: reprojection errors, joint angle ranges, per-camera
numbers, pelvis tracks, and the reductions that fit long takes into a plot's width (bone
lengths and their statistics: :mod:`mocap.geometry.bones`). No file is read here and nothing
is drawn.
"""
from __future__ import annotations

import contextlib
import warnings

import numpy as np

from calibration import Rig

from ..errors import MocapError
from ..types import Detections2D, Points3D

__all__ = ["MAX_TIME_COLUMNS", "reprojection_errors_px", "contact_sheet_frames", "sheet_frames",
           "frame_shift", "quiet_nan_warnings", "nanstat", "time_blocks", "block_reduce",
           "person_tracks", "match_reprojection", "camera_reprojection_stats", "view_shares",
           "bone_names", "angle_ranges"]

#: Widest plots: curves and images over time are reduced to at most this many columns.
MAX_TIME_COLUMNS = 1500


# ------------------------------------------------------------------------------ helpers

@contextlib.contextmanager
def quiet_nan_warnings():
    """Silence numpy's all-NaN-slice warnings (all-NaN columns are expected here)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def nanstat(fn, a, axis=None):
    """``fn(a, axis=axis)`` (a numpy nan-reduction) without all-NaN-slice warnings."""
    with quiet_nan_warnings():
        return fn(a, axis=axis)


def time_blocks(F: int) -> int:
    """Frames per column so that F frames fit in MAX_TIME_COLUMNS columns."""
    return max(1, int(np.ceil(F / MAX_TIME_COLUMNS)))


def block_reduce(a: np.ndarray, k: int, fn=np.nanmean) -> np.ndarray:
    """(F, ...) -> (ceil(F / k), ...) by applying ``fn`` over blocks of k frames."""
    if k == 1:
        return a
    F = a.shape[0]
    pad = (-F) % k
    a = np.concatenate([a, np.full((pad,) + a.shape[1:], np.nan)]) if pad else a
    return nanstat(fn, a.reshape((-1, k) + a.shape[1:]), 1)


def frame_shift(offsets: "np.ndarray | None", c: int) -> int:
    """Frames by which camera c runs late (0 without offsets): its frame f - shift shows the
    take's frame f (see :mod:`mocap.sync`)."""
    return int(offsets[c]) if offsets is not None else 0


# ------------------------------------------------------------------------------ metrics

def reprojection_errors_px(rig: Rig, xyz: np.ndarray, det_xy: np.ndarray,
                           det_conf: np.ndarray, min_conf: float) -> np.ndarray:
    """Distance between each camera's detections and the projection of the 3D keypoints.

    Args:
        rig: C cameras, in the detections' order.
        xyz: (F, P, J, 3) world points, metres (NaN = missing).
        det_xy: (C, F, P, J, 2) detections, pixels (NaN = missing).
        det_conf: (C, F, P, J) detection confidence; below ``min_conf`` counts as missing.
    Returns:
        (C, F, P, J) float32 pixels; NaN where the point, the detection or the projection is
        missing. Computed one camera at a time (memory: the output plus one camera's share).
    """
    C, F, P, J = det_conf.shape
    if xyz.shape[:3] != (F, P, J) or len(rig) != C:
        raise MocapError(f"reprojection: 3D points {xyz.shape[:3]} and detections "
                         f"{(C, F, P, J)} of {len(rig)} cameras do not match")
    err = np.empty((C, F, P, J), np.float32)
    for c, cam in enumerate(rig):
        e = np.linalg.norm(cam.project(xyz) - det_xy[c], axis=-1)
        err[c] = np.where(det_conf[c] >= min_conf, e, np.nan)
    return err


def match_reprojection(rig: "Rig | None", points: "Points3D | None",
                       det: "Detections2D | None",
                       min_conf: float) -> "tuple[np.ndarray | None, list[str]]":
    """The reprojection errors of the result where the inputs fit together.

    Returns:
        (C, F, P, J) pixels (see :func:`reprojection_errors_px`) or None when the rig, the 3D
        keypoints or the detections are absent or do not match (cameras, (F, P, J)), and the
        notes saying why they do not match.
    """
    if rig is None or points is None or det is None:
        return None, []
    if tuple(det.camera_names) != rig.names:
        return None, [f"reprojection: detections' cameras {list(det.camera_names)} are not "
                      f"the rig's {list(rig.names)}"]
    if det.shape[1:] != points.xyz.shape[:3]:
        return None, [f"reprojection: detections (F, P, J) = {det.shape[1:]} but 3D "
                      f"keypoints {points.xyz.shape[:3]}; not compared"]
    return reprojection_errors_px(rig, points.xyz, det.xy, det.conf, min_conf), []


def camera_reprojection_stats(err: np.ndarray, threshold_px: float) -> list:
    """Per camera: ``(count, median, mean, 90th percentile, share within threshold_px)`` of
    its finite errors (pixels; the share in [0, 1]), or None where it has none.

    Args:
        err: (C, F, P, J) pixels, NaN = not compared.
    """
    out = []
    for c in range(err.shape[0]):
        e = err[c][np.isfinite(err[c])]
        if e.size == 0:
            out.append(None)
            continue
        out.append((e.size, np.median(e), e.mean(), np.percentile(e, 90),
                    (e <= threshold_px).mean()))
    return out


def view_shares(points: Points3D) -> np.ndarray:
    """(C,) share of the 3D joints present that each camera contributed to (``views_used``)."""
    C = points.views_used.shape[-1]
    used = points.views_used.reshape(-1, C)
    seen = np.isfinite(points.xyz).all(-1).reshape(-1)
    return used[seen].mean(0) if seen.any() else np.zeros(C)


def bone_names(fmt) -> list[str]:
    """``parent–child`` name of every bone of a keypoint format (``fmt.bone_indices`` order)."""
    return [f"{fmt.joint_names[a]}–{fmt.joint_names[b]}" for a, b in fmt.bone_indices]


def angle_ranges(angles: dict) -> list:
    """``(name, min, max, mean)`` in degrees of every joint-angle curve (NaN ignored; NaN
    where never known); names with spaces for underscores."""
    return [(n.replace("_", " "), nanstat(np.nanmin, a), nanstat(np.nanmax, a),
             nanstat(np.nanmean, a)) for n, a in angles.items()]


# ------------------------------------------------------------------------------ frames, tracks

def contact_sheet_frames(have_points: np.ndarray, n: int) -> np.ndarray:
    """Up to ``n`` evenly spaced frames, chosen among frames with a 3D point.

    Args:
        have_points: (F,) bool: frame has at least one 3D keypoint.
    Returns:
        (k,) increasing frame indices, k <= n (all frames when none has a point).
    """
    frames = np.flatnonzero(have_points)
    if frames.size == 0:
        frames = np.arange(have_points.size)
    if frames.size <= n:
        return frames
    return frames[np.round(np.linspace(0, frames.size - 1, n)).astype(int)]


def sheet_frames(points: Points3D, n: int) -> np.ndarray:
    """The frames of the overlay contact sheet: :func:`contact_sheet_frames` over the frames
    where some joint of some person is known."""
    return contact_sheet_frames(np.isfinite(points.xyz).all(-1).any((1, 2)), n)


def person_tracks(points: Points3D) -> list[np.ndarray]:
    """(F, 3) pelvis track per person (hip midpoint when the format has no pelvis)."""
    names = points.joint_names
    if "pelvis" in names:
        root = points.xyz[:, :, names.index("pelvis")]
    elif "left_hip" in names and "right_hip" in names:
        root = 0.5 * (points.xyz[:, :, names.index("left_hip")]
                      + points.xyz[:, :, names.index("right_hip")])
    else:
        root = nanstat(np.nanmean, points.xyz, 2)
    return [root[:, p] for p in range(root.shape[1])]
