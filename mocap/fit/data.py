"""From one person's keypoints to what the fit's terms read (:func:`prepare_data`): the
observations, the frames closest to standing straight (:func:`extended_frames`), robust bone
lengths measured there, stance and floor-contact weights, and the 2D views of the
reprojection term (:func:`views_from`)."""
from __future__ import annotations

import functools
import math
import warnings
from dataclasses import replace

import numpy as np
import torch

from calibration import RigArrays

from ..errors import FitError
from ..body.model import body_axes, rest_vertices, shape_coefficients
from ..body.regressors import KeypointLayer, keypoints_forward
from ..geometry.bones import robust_bone_lengths
from ..keypoints import convert_keypoints, get_format
from .anatomy import SOLE, TORSO
from .params import FitData, Views

__all__ = ["views_from", "extension_scores", "extended_frames", "median_bone_lengths",
           "prepare_data", "stance_weights", "contact_weights"]


def views_from(detections, rig, person: int, fmt: str, device, dtype) -> Views:
    """:class:`Views` of one person from :class:`mocap.types.Detections2D` and a rig (same
    camera order), re-indexed to the keypoint format ``fmt``."""
    cams = list(rig)
    if tuple(c.name for c in cams) != tuple(detections.camera_names):
        raise FitError(f"reprojection: rig cameras {[c.name for c in cams]} differ from the "
                       f"detections' {list(detections.camera_names)}")
    xy = convert_keypoints(detections.xy[:, :, person], detections.format, fmt, axis=-2)
    conf = convert_keypoints(detections.conf[:, :, person], detections.format, fmt, axis=-1,
                             fill=0.0)
    ok = np.isfinite(xy).all(-1) & (conf > 0)
    to = dict(device=device, dtype=dtype)
    return Views(cameras=RigArrays.from_cameras(cams).to(device, dtype),
                 xy=torch.as_tensor(np.where(ok[..., None], xy, 0.0), **to),
                 conf=torch.as_tensor(np.where(ok, conf, 0.0), **to))


def _angle(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """(...) angle between vectors (..., 3) and (..., 3), radians (NaN where either is)."""
    cos = (u * v).sum(-1) / (np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1))
    return np.arccos(np.clip(cos, -1.0, 1.0))


def extension_scores(xyz: np.ndarray, names) -> np.ndarray:
    """(F,) how far each frame is from standing straight with the arms hanging (radians
    summed: both knees' bend, both upper arms' raise from hanging, the trunk's lean from
    vertical), NaN where a keypoint it needs is missing (or the format lacks one).

    Args:
        xyz: (F, K, 3) world metres (Z up), NaN = missing; names: (K,) canonical names.
    """
    idx = {n: i for i, n in enumerate(names)}
    F = xyz.shape[0]
    need = [f"{s}_{n}" for s in ("left", "right") for n in ("hip", "knee", "ankle", "shoulder",
                                                              "elbow")]
    if any(n not in idx for n in need):
        return np.full(F, np.nan)

    def at(n):
        return xyz[:, idx[n]]
    down = np.array([0.0, 0.0, -1.0])
    score = np.zeros(F)
    for side in ("left", "right"):
        hip, knee, ankle = at(f"{side}_hip"), at(f"{side}_knee"), at(f"{side}_ankle")
        sh, el = at(f"{side}_shoulder"), at(f"{side}_elbow")
        score += _angle(knee - hip, ankle - knee) + _angle(el - sh, down)
    mid_hip = 0.5 * (at("left_hip") + at("right_hip"))
    mid_sh = 0.5 * (at("left_shoulder") + at("right_shoulder"))
    return score + _angle(mid_sh - mid_hip, -down)


def extended_frames(xyz: np.ndarray, names, share: float = 0.25) -> np.ndarray:
    """(F,) bool: the ``share`` of the frames (at least 3) whose pose is closest to standing
    straight (:func:`extension_scores`); all frames where too few can be scored."""
    score = extension_scores(xyz, names)
    ok = np.isfinite(score)
    if ok.sum() < 3:
        return np.ones(len(score), bool)
    k = max(3, int(math.ceil(share * ok.sum())))
    keep = np.zeros(len(score), bool)
    keep[np.argsort(np.where(ok, score, np.inf), kind="stable")[:k]] = True
    return keep


def median_bone_lengths(xyz: np.ndarray, conf: np.ndarray, bones: np.ndarray,
                        extended: "np.ndarray | None" = None):
    """Median length of each bone over the frames where both ends are seen (conf > 0.3):
    over the ``extended`` (F,) frames where at least 3 of those are, else over all
    (:func:`mocap.geometry.bones.robust_bone_lengths` of that frame selection).

    Args:
        xyz: (F, K, 3) keypoints, metres, finite where conf > 0.3; conf: (F, K) (0 =
            missing); bones: (Bn, 2) keypoint index pairs; extended: optional (F,) bool.
    Returns:
        lengths (Bn,) metres and weights (Bn,): 1 where a bone was seen in 3 frames or more
        (else 0, and length 0).
    """
    b = np.asarray(bones, int).reshape(-1, 2)
    seen = conf > 0.3
    frames = seen[:, b[:, 0]] & seen[:, b[:, 1]]                                  # (F, Bn)
    if extended is not None:
        in_ext = frames & np.asarray(extended, bool)[:, None]
        frames = np.where((in_ext.sum(0) >= 3)[None], in_ext, frames)
    lengths = robust_bone_lengths(xyz, b, frames, min_frames=3)
    found = np.isfinite(lengths)
    return np.where(found, lengths, 0.0), found.astype(float)


@functools.lru_cache(maxsize=16)
def _sole_heights(layer: KeypointLayer) -> tuple[list, list]:
    """Sole keypoints of the format and their height above the model's soles at rest (mean
    shape), metres."""
    model = layer.model
    up = body_axes(model)[:, 2]
    b64 = torch.as_tensor(model.shape_mean, dtype=torch.float64)
    floor = float((rest_vertices(model, shape_coefficients(model, b64)).numpy() @ up).min())
    b = b64.to(device=layer.device, dtype=layer.dtype)
    eye = torch.eye(3, dtype=layer.dtype, device=layer.device).expand(1, layer.num_joints, 3, 3)
    with torch.no_grad():
        _, kp, _ = keypoints_forward(layer, b, eye, torch.zeros(1, 3, dtype=layer.dtype,
                                                               device=layer.device))
    kp = kp[0].cpu().double().numpy()
    idx = [i for i, n in enumerate(layer.keypoint_names) if n in SOLE]
    return idx, [float(kp[i] @ up - floor) for i in idx]


def prepare_data(layer: KeypointLayer, xyz: np.ndarray, conf: np.ndarray, fps: float,
                 views: "Views | None" = None, floor_z_m: float = 0.0,
                 parts_once: bool = False) -> FitData:
    """:class:`FitData` from one person's keypoints.

    Each keypoint's weight (3D term) and each detection's (reprojection term) is its
    confidence; with ``parts_once`` (``[fit] parts_once``), times its share of the rigid body
    part it measures (:attr:`mocap.keypoints.KeypointFormat.part_weights`): the face's 11
    BlazePose landmarks then count together as much as one hip.

    Args:
        xyz: (F, K, 3) world metres, NaN = missing, in ``layer.format``; conf: (F, K).
        views: 2D detections for the reprojection term. floor_z_m: the floor's height, for
            the contact weights of the floor term. parts_once: count each rigid body part
            once (see above).
    Raises:
        FitError: shapes that do not match the format, or no keypoint seen at all.
    """
    K = len(layer.keypoint_names)
    xyz = np.asarray(xyz, float)
    conf = np.asarray(conf, float)
    if xyz.ndim != 3 or xyz.shape[1:] != (K, 3) or conf.shape != xyz.shape[:2]:
        raise FitError(f"keypoints must be (F, {K}, 3) with confidences (F, {K}) for format "
                       f"{layer.format!r}, found {xyz.shape} and {conf.shape}")
    seen = np.isfinite(xyz).all(-1) & np.isfinite(conf) & (conf > 0)
    if not seen.any():
        raise FitError("no keypoint of this person was ever observed; nothing to fit")
    kf = get_format(layer.format)
    bones = kf.bone_indices
    obs = np.where(seen[..., None], xyz, np.nan)
    extended = extended_frames(obs, layer.keypoint_names)
    lengths, bw = median_bone_lengths(obs, np.where(seen, conf, 0.0), bones, extended)
    sole, height = _sole_heights(layer)
    to = dict(device=layer.device, dtype=layer.dtype)
    part = torch.as_tensor(kf.part_weights if parts_once else np.ones(K), **to)      # (K,)
    if views is not None and parts_once:
        views = replace(views, conf=views.conf * part)
    return FitData(
        xyz=torch.as_tensor(np.where(seen[..., None], xyz, 0.0), **to),
        weight=torch.as_tensor(np.where(seen, conf, 0.0), **to) * part,
        torso=torch.as_tensor([n in TORSO for n in layer.keypoint_names], **to),
        fps=float(fps), bones=torch.as_tensor(bones, dtype=torch.long, device=layer.device),
        bone_lengths=torch.as_tensor(lengths, **to), bone_weight=torch.as_tensor(bw, **to),
        sole=torch.as_tensor(sole, dtype=torch.long, device=layer.device),
        sole_height=torch.as_tensor(height, **to),
        contact=torch.as_tensor(contact_weights(xyz, seen, sole, height, floor_z_m), **to),
        views=views, extended=torch.as_tensor(extended, **to),
        stance=torch.as_tensor(stance_weights(obs, layer.keypoint_names), **to))


def stance_weights(xyz: np.ndarray, names, low_m: float = 0.15, high_m: float = 0.3,
                   ) -> np.ndarray:
    """(F,) how surely each frame shows a person on their feet: 0 where the hips' midpoint is
    less than ``low_m`` above the ankles' (lying, crawling, upside down), 1 above ``high_m``
    (standing, walking, squatting), linear between; frames without those keypoints take the
    nearest frame's value (1 when none has them, or the format has no ankles).

    Args:
        xyz: (F, K, 3) world metres (Z up), NaN where missing; names: the K keypoint names.
    """
    need = ("left_hip", "right_hip", "left_ankle", "right_ankle")
    F = xyz.shape[0]
    if any(n not in names for n in need):
        return np.ones(F)
    lh, rh, la, ra = (xyz[:, list(names).index(n), 2] for n in need)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)          # frames with none of them
        h = np.nanmean(np.stack([lh, rh]), 0) - np.nanmean(np.stack([la, ra]), 0)
    ok = np.isfinite(h)
    if not ok.any():
        return np.ones(F)
    idx = np.flatnonzero(ok)
    nearest = idx[np.clip(np.searchsorted(idx, np.arange(F)), 0, idx.size - 1)]
    prev = idx[np.clip(np.searchsorted(idx, np.arange(F)) - 1, 0, idx.size - 1)]
    pick = np.where(np.abs(prev - np.arange(F)) < np.abs(nearest - np.arange(F)), prev, nearest)
    return np.clip((h[pick] - low_m) / (high_m - low_m), 0.0, 1.0)


def contact_weights(xyz: np.ndarray, seen: np.ndarray, sole: list, sole_height: list,
                    floor_z: float, band_m: float = 0.02) -> np.ndarray:
    """(F - 1, S) how surely each sole keypoint touches the floor between consecutive frames:
    ``exp(-h / band)`` of its observed height ``h`` above its resting height (the higher of
    the two frames), 0 where unobserved.

    Args:
        xyz: (F, K, 3) observed keypoints, metres; seen: (F, K) bool.
    """
    F = xyz.shape[0]
    if not sole or F < 2:
        return np.zeros((max(F - 1, 0), len(sole)))
    h = xyz[:, sole, 2] - np.asarray(sole_height) - floor_z
    h = np.where(seen[:, sole], h, np.inf)
    top = np.maximum(h[1:], h[:-1])
    return np.exp(-np.clip(top, 0.0, None) / band_m)
