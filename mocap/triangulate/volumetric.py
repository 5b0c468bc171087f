"""Volumetric triangulation from 2D heatmaps (torch; no trained weights needed).

For each person and frame a cube (side ``volume_size_m``, centred on the middle of the person's
algebraic joints' extent: :func:`cube_centres`) is cut into ``volume_grid``^3 voxels. Every
voxel centre is projected into every camera through the full lens model, mapped into each
heatmap by the inverse of its heatmap-to-image affine and sampled (bicubic); the per-view
likelihoods are aggregated across views (``product`` = sum of logs, ``softmax`` = mean weighted
by a softmax over views of their peak values, ``mean``), and a 3D soft-argmax (softmax over
voxels, expectation of the voxel centres) gives each joint's position. Then, per joint, a cube
3 voxels wide around that estimate is cut into ``volume_refine_grid``^3 finer voxels and the
same is done again, until the voxel is smaller than ``volume_voxel_mm``. Heatmaps are average-
pooled at each level to about half a voxel's footprint, so a coarse voxel sees the likelihood
over its extent, not at one point.

Aggregated volumes are log-likelihoods, so the soft-argmax at temperature 1 is the posterior
mean of the voxel grid under the product model. The likelihood floor (``volume_floor``) bounds
what one view can veto: a view whose heatmap peaks elsewhere (an outlier, a swapped label)
lowers every voxel away from its peak by the same amount, and the views that agree win. Where
a detector's heatmap holds two peaks (ambiguous), the other views pick the right one, which a
keypoint (the argmax) cannot do.

Optional learned refinement: :mod:`mocap.triangulate.v2v`.

Everything is batched torch, differentiable with respect to the heatmaps (gradchecked in the
tests), on the GPU when present (``device``). Frames are processed in chunks of
``volume_frames_per_batch``, so memory does not grow with the take.
"""
from __future__ import annotations

import logging
import warnings

import numpy as np
import torch
import torch.nn.functional as tF

from calibration import Rig, RigArrays

from ..device import pick_device
from ..errors import TriangulationError
from ..settings import TriangulateSettings, VolumeAggregation, choices
from ..types import Detections2D, Points3D
from .checks import check_cameras
from .take import triangulate_take
from .v2v import V2VRefiner, load_v2v

log = logging.getLogger(__name__)

__all__ = ["AGGREGATIONS", "voxel_grid", "sample_heatmaps", "aggregate", "soft_argmax",
           "volumetric_points", "cube_centres", "triangulate_volumetric"]

AGGREGATIONS = choices(VolumeAggregation)
_SOFTMAX_VIEW_BETA = 3.0  # sharpness of the softmax over views (of peaks in [0, 1])
_MIN_HEATMAP = 1e-3        # a view whose heatmap never reaches this has not seen the joint


# ----------------------------------------------------------------------------- volumes

def voxel_grid(centre: torch.Tensor, side_m, n: int) -> torch.Tensor:
    """Voxel centres of cubes.

    Args:
        centre: (..., 3) cube centres, metres. side_m: cube side, metres (float or (...)).
        n: voxels per side.
    Returns:
        (..., n^3, 3) voxel centres, metres (x fastest... the order of ``torch.meshgrid`` with
        ``indexing="ij"`` over (x, y, z) flattened).
    """
    r = (torch.arange(n, dtype=centre.dtype, device=centre.device) + 0.5) / n - 0.5
    gx, gy, gz = torch.meshgrid(r, r, r, indexing="ij")
    unit = torch.stack([gx, gy, gz], -1).reshape(-1, 3)                    # (n^3, 3)
    side = torch.as_tensor(side_m, dtype=centre.dtype, device=centre.device)
    side = side.reshape(side.shape + (1, 1)) if side.ndim else side
    return centre[..., None, :] + unit * side


def _pool(hm: torch.Tensor, affine: torch.Tensor, k: int):
    """Average-pool heatmaps by ``k`` (a coarse level sees the mean likelihood over about its
    voxel's footprint) and adjust the affine to the pooled cells.

    Args:
        hm: (C, B, J, h, w); affine: (C, B, 2, 3) cell -> pixels.
    Returns:
        pooled heatmaps (C, B, J, h // k, w // k) and their affine.
    """
    if k <= 1:
        return hm, affine
    C, B, J, h, w = hm.shape
    pooled = tF.avg_pool2d(hm.reshape(C * B, J, h, w), k, stride=k)
    A = affine[..., :2]
    off = affine[..., 2] + (A @ torch.full((2, 1), (k - 1) / 2, dtype=A.dtype,
                                           device=A.device))[..., 0]
    return pooled.reshape(C, B, J, *pooled.shape[-2:]), torch.cat([A * k, off[..., None]], -1)


def sample_heatmaps(hm: torch.Tensor, affine: torch.Tensor, uv: torch.Tensor,
                    per_joint: bool) -> torch.Tensor:
    """Heatmap values at image points (bicubic, 0 outside the heatmap).

    Args:
        hm: (C, B, J, h, w) heatmaps. affine: (C, B, 2, 3) heatmap cell (u, v, 1) -> pixels.
        uv: pixels, (C, B, K, 2) shared by all joints (``per_joint=False``) or
            (C, B, J, K, 2), one set per joint.
    Returns:
        (C, B, J, K) values (NaN points give 0).
    """
    C, B, J, h, w = hm.shape
    A = affine[..., :2]
    b = affine[..., 2]
    Ainv = torch.linalg.inv(A)                                              # (C, B, 2, 2)
    if per_joint:
        d = uv - b[:, :, None, None, :]
        cell = (Ainv[:, :, None, None] @ d[..., None])[..., 0]               # (C, B, J, K, 2)
    else:
        d = uv - b[:, :, None, :]
        cell = (Ainv[:, :, None] @ d[..., None])[..., 0]                     # (C, B, K, 2)
    g = torch.stack([2 * cell[..., 0] / max(w - 1, 1) - 1, 2 * cell[..., 1] / max(h - 1, 1) - 1], -1)
    g = torch.nan_to_num(g, nan=-10.0, posinf=-10.0, neginf=-10.0)
    if per_joint:
        K = g.shape[3]
        out = tF.grid_sample(hm.reshape(C * B * J, 1, h, w), g.reshape(C * B * J, 1, K, 2),
                             mode="bicubic", padding_mode="zeros", align_corners=True)
        return out.reshape(C, B, J, K).clamp_min(0.0)
    K = g.shape[2]
    out = tF.grid_sample(hm.reshape(C * B, J, h, w), g.reshape(C * B, 1, K, 2), mode="bicubic",
                         padding_mode="zeros", align_corners=True)
    return out.reshape(C, B, J, K).clamp_min(0.0)


def aggregate(values: torch.Tensor, weights: torch.Tensor, method: str = "product",
              floor: float = 1e-3) -> torch.Tensor:
    """Combine per-view likelihoods into one log-likelihood volume.

    Args:
        values: (C, B, J, K) heatmap values at the voxels, in [0, 1].
        weights: (C, B, J) view weights (0 = the view did not see the joint).
        method: ``product`` (sum of ``log(value + floor)``), ``softmax`` (views weighted by
            ``softmax(3 peak)``, the softmax over views of each view's highest value in the
            volume, i.e. its confidence) or ``mean``; the last two are returned as
            ``n_views * log(aggregate + floor)`` so that all three are log-likelihoods of
            comparable sharpness for the soft-argmax.
        floor: likelihood floor (bounds one view's veto).
    Returns:
        (B, J, K) log-likelihood volume.
    """
    w = weights[..., None]
    n = weights.sum(0)[..., None]                                          # (B, J, 1)
    if method == "product":
        return (w * torch.log(values + floor)).sum(0)
    if method == "mean":
        agg = (w * values).sum(0) / n.clamp_min(1e-9)
    elif method == "softmax":
        peak = values.amax(-1, keepdim=True)                               # (C, B, J, 1)
        logits = torch.where(w > 0, _SOFTMAX_VIEW_BETA * peak, torch.full_like(peak, -torch.inf))
        a = torch.nan_to_num(torch.softmax(logits, 0))
        agg = (a * values).sum(0)
    else:
        raise TriangulationError(f"[triangulate] volume_aggregation = {method!r}; expected one "
                                 f"of {', '.join(AGGREGATIONS)}")
    return n * torch.log(agg + floor)


def soft_argmax(volume: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """3D soft-argmax: the expectation of voxel centres under ``softmax(volume)``.

    Args:
        volume: (B, J, K) log-likelihoods. centres: (B, K, 3) or (B, J, K, 3) metres.
    Returns:
        (B, J, 3) metres.
    """
    p = torch.softmax(volume, -1)
    if centres.ndim == 3:
        return p @ centres
    return (p[..., None] * centres).sum(-2)


def _pool_factor(voxel_m: float, depth: torch.Tensor, affine: torch.Tensor,
                 cams: RigArrays, size: int) -> int:
    """Pooling factor (cells) of about half a voxel's footprint, median over views, keeping at
    least 8 cells per side."""
    f = cams.K[:, 0, 0][:, None]                                          # (C, 1)
    cell_px = torch.sqrt(torch.abs(torch.linalg.det(affine[..., :2])))     # (C, B)
    cells = voxel_m * f / depth.clamp_min(0.1) / cell_px.clamp_min(1e-6)
    cells = cells[torch.isfinite(cells)]
    if cells.numel() == 0:
        return 1
    return int(max(1, min(size // 8, round(0.5 * float(cells.median())))))


def _levels(s: TriangulateSettings) -> list[tuple[float, int]]:
    """(cube side m, voxels per side) per level, coarse first, until the voxel < voxel_mm."""
    side, n = s.volume_size_m, s.volume_grid
    out = [(side, n)]
    while side / n * 1000.0 >= s.volume_voxel_mm and len(out) < 12:
        side = 3.0 * side / n
        n = s.volume_refine_grid
        out.append((side, n))
    return out


def volumetric_points(hm: torch.Tensor, affine: torch.Tensor, weights: torch.Tensor,
                      centre: torch.Tensor, cams: RigArrays,
                      settings: TriangulateSettings = TriangulateSettings(),
                      refiner: "V2VRefiner | None" = None) -> torch.Tensor:
    """Joint positions from heatmaps, coarse to fine (see the module doc).

    Args:
        hm: (C, B, J, h, w) heatmaps (B = frame-person instances).
        affine: (C, B, 2, 3) heatmap cell -> image pixels.
        weights: (C, B, J) view weights (0 = no heatmap for that joint in that view).
        centre: (B, 3) cube centres, metres (world).
        cams: the cameras as tensors on the heatmaps' device and dtype
            (``rig.arrays().to(device, dtype)``); voxels are projected by
            :meth:`calibration.RigArrays.project`. refiner: optional V2V model applied to the
            coarse volume.
    Returns:
        (B, J, 3) metres.
    """
    levels = _levels(settings)
    side, n = levels[0]
    grid = voxel_grid(centre, side, n)                                      # (B, K, 3)
    uv, z = cams.project(grid)                                              # (C, B, K, 2)
    depth = z.mean(-1)                                                      # (C, B)
    k = _pool_factor(side / n, depth, affine, cams, min(hm.shape[-2:]))
    vals = sample_heatmaps(*_pool(hm, affine, k), uv, per_joint=False)      # (C, B, J, K)
    vol = aggregate(vals, weights, settings.volume_aggregation, settings.volume_floor)
    if refiner is not None:
        vol = refiner.refine(vol, n)
    X = soft_argmax(vol, grid)                                              # (B, J, 3)
    for side, n in levels[1:]:
        grid = voxel_grid(X, side, n)                                       # (B, J, K, 3)
        uv, _ = cams.project(grid)                                          # (C, B, J, K, 2)
        k = _pool_factor(side / n, depth, affine, cams, min(hm.shape[-2:]))
        vals = sample_heatmaps(*_pool(hm, affine, k), uv, per_joint=True)
        vol = aggregate(vals, weights, settings.volume_aggregation, settings.volume_floor)
        X = soft_argmax(vol, grid)
    return X


# ----------------------------------------------------------------------------- a whole take

def cube_centres(xyz: np.ndarray, side_m: float) -> np.ndarray:
    """Where each person's cube is centred: the middle of the person's extent (the box
    around its joints), not the median of its joints, which formats with many face points
    (BlazePose: 11 of 33) pull up to the chest, leaving the feet of a tall person outside
    a cube of ``side_m``. Joints farther than 0.75 ``side_m`` from the median on any axis
    (gross outliers of the algebraic result) do not count.

    Args:
        xyz: (F, P, J, 3) algebraic joints, metres, NaN where missing. side_m: cube side.
    Returns:
        (F, P, 3) metres, NaN where a person has no joint.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.nanmedian(xyz, axis=2)                                     # (F, P, 3)
        near = np.abs(xyz - med[:, :, None]).max(-1) <= 0.75 * side_m       # (F, P, J)
        kept = np.where(near[..., None], xyz, np.nan)
        return 0.5 * (np.nanmin(kept, axis=2) + np.nanmax(kept, axis=2))


def _relabel_heatmaps(hm: np.ndarray, swapped: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Exchange the heatmap channels of pairs found swapped.

    hm (C, F, P, J, h, w); swapped (F, P, K, C)."""
    if not swapped.any():
        return hm
    hm = hm.copy()
    for k, (l, r) in enumerate(pairs):
        s = np.moveaxis(swapped[:, :, k], -1, 0)                            # (C, F, P)
        if s.any():
            a, b = hm[:, :, :, l][s].copy(), hm[:, :, :, r][s].copy()
            hl, hr = hm[:, :, :, l], hm[:, :, :, r]
            hl[s], hr[s] = b, a
            hm[:, :, :, l], hm[:, :, :, r] = hl, hr
    return hm


def triangulate_volumetric(det: Detections2D, rig: Rig,
                           settings: TriangulateSettings = TriangulateSettings()) -> Points3D:
    """Volumetric triangulation of a take (see the module doc).

    The algebraic result (robust, with left/right swap repair) centres each person's cube;
    heatmap channels of pairs found swapped are relabelled the same way.

    Returns:
        Points3D; ``views_used`` are the views with a heatmap whose 2D keypoint agrees with
        the result within ``reproj_threshold_px``, ``reproj_err_px`` their mean error, and
        ``conf`` their mean confidence.
    Raises:
        TriangulationError: no heatmaps, another camera order, bad settings.
    """
    check_cameras(rig, det)
    if det.heatmaps is None:
        raise TriangulationError("[triangulate] method 'volumetric' needs heatmaps; the "
                                 "detections have none (write heatmaps/<cam>.npz or use "
                                 "method 'algebraic')")
    C, F, P, J = det.shape
    kf = det.keypoint_format
    alg = triangulate_take(det, rig, settings)
    centres = cube_centres(alg.points.xyz, settings.volume_size_m)          # (F, P, 3)
    pairs = np.array(kf.lr_pairs, int).reshape(-1, 2)
    dev = pick_device(settings.device, TriangulationError, "[triangulate] device")
    dt = torch.float32  # ample for voxels of millimetres at metres; gradchecks use float64
    cams = rig.arrays().to(dev, dt)
    refiner = load_v2v(settings.v2v_weights, J, dev) if settings.v2v_weights else None
    xyz = np.full((F, P, J, 3), np.nan)
    chunk = max(1, int(settings.volume_frames_per_batch))
    with torch.no_grad():
        for f0 in range(0, F, chunk):
            f1 = min(F, f0 + chunk)
            hm = _relabel_heatmaps(np.asarray(det.heatmaps[:, f0:f1]), alg.swapped[f0:f1], pairs)
            aff = det.heatmap_affine[:, f0:f1]
            cen = centres[f0:f1].reshape(-1, 3)
            ok = np.isfinite(cen).all(-1)
            if not ok.any():
                continue
            B = (f1 - f0) * P
            hm_t = torch.as_tensor(hm.reshape(C, B, J, *hm.shape[-2:])[:, ok], dtype=dt,
                                   device=dev)
            aff_t = torch.as_tensor(aff.reshape(C, B, 2, 3)[:, ok], dtype=dt, device=dev)
            peak = hm_t.flatten(-2).amax(-1)                                 # (C, b, J)
            good_aff = torch.isfinite(aff_t).all(-1).all(-1) & \
                (torch.abs(torch.linalg.det(aff_t[..., :2])) > 0)
            w = ((peak >= _MIN_HEATMAP) & good_aff[..., None]).to(dt)
            X = volumetric_points(hm_t, aff_t, w, torch.as_tensor(cen[ok], dtype=dt, device=dev),
                                  cams, settings, refiner)
            X = torch.where((w.sum(0) >= settings.min_views)[..., None], X,
                            torch.full_like(X, float("nan")))
            out = np.full((B, J, 3), np.nan)
            out[ok] = X.double().cpu().numpy()
            xyz[f0:f1] = out.reshape(f1 - f0, P, J, 3)
    return _finish_points(det, rig, settings, xyz, kf)


def _finish_points(det, rig, settings, xyz, kf) -> Points3D:
    """Views used, reprojection errors and confidences of volumetric points."""
    C, F, P, J = det.shape
    xy = np.moveaxis(det.xy, 0, 3)                                          # (F, P, J, C, 2)
    conf = np.moveaxis(det.conf, 0, 3).astype(np.float64)                   # (F, P, J, C)
    err = np.full((F, P, J, C), np.nan)
    for c, cam in enumerate(rig):
        uv = cam.project(xyz)
        err[..., c] = np.linalg.norm(uv - xy[..., c, :], axis=-1)
    has = (conf >= settings.min_conf) & np.isfinite(xy).all(-1)
    if det.heatmaps is not None:
        has &= np.moveaxis(det.heatmaps.max(axis=(-1, -2)) >= _MIN_HEATMAP, 0, 3)
    with np.errstate(invalid="ignore"):
        used = has & (err <= settings.reproj_threshold_px) & np.isfinite(xyz).all(-1)[..., None]
    n = used.sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_err = np.where(n > 0, np.where(used, err, 0).sum(-1) / np.maximum(n, 1), np.nan)
        mean_conf = np.where(n > 0, (conf * used).sum(-1) / np.maximum(n, 1), 0.0)
    done = np.isfinite(xyz).all(-1)
    mean_conf = np.where(done, np.maximum(mean_conf, 1e-3), 0.0)
    log.info("volumetric: %d of %d joints (%s aggregation, levels %s)", int(done.sum()),
             done.size, settings.volume_aggregation,
             ", ".join(f"{1000 * s / n:.1f} mm" for s, n in _levels(settings)))
    return Points3D(xyz=xyz, conf=mean_conf.astype(np.float32), joint_names=kf.joint_names,
                    fps=det.fps, format=kf.name, views_used=used,
                    reproj_err_px=mean_err.astype(np.float32), camera_names=det.camera_names)
