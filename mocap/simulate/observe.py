"""What each camera's 2D detector would report: keypoints, confidences and heatmaps.

The error model mimics a top-down heatmap detector (OpenPose, RTMPose, BlazePose):

* jitter: isotropic Gaussian noise whose scale is a fraction of the person's height in pixels,
  with a per-detection spread (some joints are simply harder);
* confidence correlated with error: ``conf = 0.98 exp(-0.15 s^2)`` where ``s`` is the noise
  scale relative to the nominal jitter, plus a little noise;
* self-occlusion: a joint hidden behind a body part (capsules of :mod:`.body`) as seen from the
  camera is localised three times worse, with lower confidence;
* gross outliers: a joint placed far away with a *misleadingly* high confidence;
* left/right swaps: the whole skeleton mirrored in one view (the detector confused front and
  back), confidences unchanged;
* missing frames: the person not detected at all in a view;
* joints outside the image are missing.

Heatmaps are Gaussians on a ``size x size`` grid over a square crop around the person (as a
top-down model sees it), with a second, weaker peak where the detection is ambiguous (swaps
and outliers put a peak at the wrong place and keep a weaker one at the truth).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ErrorModel", "observe", "occluded", "render_heatmaps", "heatmap_crops",
           "camera_heatmaps"]


@dataclass(frozen=True)
class ErrorModel:
    """Parameters of the simulated 2D detector (rates are probabilities per detection unless
    said otherwise).

    Attributes:
        jitter_frac: nominal noise std as a fraction of the person's height in pixels.
        jitter_spread: log-normal spread of the per-detection noise scale.
        occlusion_factor: noise multiplier for self-occluded joints.
        outlier_rate: probability that a joint is a gross outlier.
        swap_rate: probability, per camera, frame and person, of a left/right mirrored body.
        missing_frame_rate: probability, per camera, frame and person, of no detection.
        min_conf: detections below this confidence are reported missing.
    """

    jitter_frac: float = 0.004
    jitter_spread: float = 0.35
    occlusion_factor: float = 3.0
    outlier_rate: float = 0.02
    swap_rate: float = 0.01
    missing_frame_rate: float = 0.01
    min_conf: float = 0.05

    @classmethod
    def perfect(cls) -> "ErrorModel":
        """A noise-free detector (every visible joint exact, confidence 1)."""
        return cls(jitter_frac=0.0, jitter_spread=0.0, occlusion_factor=1.0, outlier_rate=0.0,
                   swap_rate=0.0, missing_frame_rate=0.0, min_conf=0.0)


def _segment_distance(p0, p1, q0, q1):
    """Distance between segments [p0, p1] and [q0, q1], broadcast over leading axes (..., 3)."""
    d1, d2, r = p1 - p0, q1 - q0, p0 - q0
    a = (d1 * d1).sum(-1)
    e = (d2 * d2).sum(-1)
    f = (d2 * r).sum(-1)
    c = (d1 * r).sum(-1)
    b = (d1 * d2).sum(-1)
    denom = a * e - b * b
    eps = 1e-12
    s = np.where(denom > eps, np.clip((b * f - c * e) / np.maximum(denom, eps), 0, 1), 0.0)
    t = (b * s + f) / np.maximum(e, eps)
    t_c = np.clip(t, 0, 1)
    s = np.where(t < 0, np.clip(-c / np.maximum(a, eps), 0, 1),
                 np.where(t > 1, np.clip((b - c) / np.maximum(a, eps), 0, 1), s))
    cp = p0 + d1 * s[..., None]
    cq = q0 + d2 * t_c[..., None]
    return np.linalg.norm(cp - cq, axis=-1)


def occluded(cam_center: np.ndarray, points: np.ndarray, cap_a: np.ndarray, cap_b: np.ndarray,
             cap_r: np.ndarray) -> np.ndarray:
    """Which points are hidden behind a capsule as seen from a camera.

    Args:
        cam_center: (3,) camera centre, world metres.
        points: (F, L, 3) landmarks, world metres.
        cap_a, cap_b: (F, S, 3) capsule axis end points; cap_r: (S,) radii, metres.
    Returns:
        (F, L) bool. A capsule the point lies on (within 1.3 radii of its axis) never hides it.
    """
    F, L = points.shape[:2]
    p0 = np.broadcast_to(cam_center, (F, L, 1, 3))
    pt = points[:, :, None, :]
    # Stop the sight line short of the point so that its own surface does not count.
    p1 = p0 + (pt - p0) * 0.97
    qa, qb = cap_a[:, None], cap_b[:, None]
    hit = _segment_distance(p0, p1, qa, qb) < cap_r
    own = _segment_distance(pt, pt, qa, qb) < 1.3 * cap_r
    return (hit & ~own).any(-1)


def observe(uv: np.ndarray, depth: np.ndarray, hidden: np.ndarray, size_wh, person_px: np.ndarray,
            model: ErrorModel, flip_perm: np.ndarray, rng: np.random.Generator,
            ) -> dict:
    """Turn exact projections into one camera's detections.

    Args:
        uv: (F, P, J, 2) exact pixel positions; depth: (F, P, J) metres along the optical axis.
        hidden: (F, P, J) bool self-occlusion.
        size_wh: image (width, height) pixels. person_px: (F, P) person height in pixels.
        flip_perm: (J,) permutation exchanging left and right joints.
    Returns:
        dict: ``xy`` (F, P, J, 2) NaN = missing, ``conf`` (F, P, J), ``sigma_px`` (F, P, J)
        noise std used, ``outlier`` (F, P, J) bool, ``swapped`` (F, P) bool, ``missing`` (F, P)
        bool, ``true_xy`` (F, P, J, 2) where each reported joint truly is (after a swap, the
        mirror joint's position).
    """
    F, P, J = depth.shape
    w, h = size_wh
    s = np.exp(model.jitter_spread * rng.standard_normal((F, P, J)))
    s = np.where(hidden, s * model.occlusion_factor, s)
    sigma = model.jitter_frac * person_px[..., None] * s
    xy = uv + sigma[..., None] * rng.standard_normal((F, P, J, 2))
    conf = 0.98 * np.exp(-0.15 * s ** 2) + 0.03 * rng.standard_normal((F, P, J))
    if model.jitter_frac == 0:
        conf = np.ones((F, P, J))
    outlier = rng.random((F, P, J)) < model.outlier_rate
    ang = rng.uniform(0, 2 * np.pi, (F, P, J))
    dist = rng.uniform(0.1, 0.5, (F, P, J)) * person_px[..., None]
    jump = np.stack([np.cos(ang), np.sin(ang)], -1) * dist[..., None]
    xy = np.where(outlier[..., None], uv + jump, xy)
    conf = np.where(outlier, rng.uniform(0.3, 0.9, (F, P, J)), conf)
    swapped = rng.random((F, P)) < model.swap_rate
    true_xy = uv.copy()
    xy[swapped] = xy[swapped][:, flip_perm]
    conf[swapped] = conf[swapped][:, flip_perm]
    true_xy[swapped] = uv[swapped][:, flip_perm]
    missing = rng.random((F, P)) < model.missing_frame_rate
    inside = ((xy[..., 0] >= -0.5) & (xy[..., 0] <= w - 0.5) & (xy[..., 1] >= -0.5)
              & (xy[..., 1] <= h - 0.5) & (depth > 0.05))
    conf = np.clip(conf, 0.0, 1.0)
    valid = inside & ~missing[..., None] & (conf >= model.min_conf) & np.isfinite(xy).all(-1)
    xy = np.where(valid[..., None], xy, np.nan)
    conf = np.where(valid, conf, 0.0).astype(np.float32)
    return dict(xy=xy, conf=conf, sigma_px=sigma, outlier=outlier & valid, swapped=swapped,
                missing=missing, true_xy=true_xy)


def heatmap_crops(uv: np.ndarray, size: int, margin: float = 0.25) -> np.ndarray:
    """Square crops around each person, as a top-down detector would take them.

    Args:
        uv: (F, P, J, 2) exact pixel positions of the person's joints.
        size: heatmap side in cells.
    Returns:
        (F, P, 2, 3) affine mapping a heatmap cell centre (u, v, 1) to image pixels.
    """
    lo = np.nanmin(uv, axis=2)
    hi = np.nanmax(uv, axis=2)
    centre = 0.5 * (lo + hi)
    side = (1 + 2 * margin) * np.max(hi - lo, axis=-1)
    side = np.where(np.isfinite(side) & (side > 1), side, 64.0)
    centre = np.where(np.isfinite(centre), centre, 0.0)
    cell = side / size
    A = np.zeros(uv.shape[:2] + (2, 3))
    A[..., 0, 0] = cell
    A[..., 1, 1] = cell
    A[..., :, 2] = centre - side[..., None] / 2 + 0.5 * cell[..., None]
    return A


def render_heatmaps(obs: dict, affine: np.ndarray, size: int,
                    dtype=np.float16) -> np.ndarray:
    """Heatmaps for one camera's detections.

    Args:
        obs: the output of :func:`observe`.
        affine: (F, P, 2, 3) cell -> pixel maps from :func:`heatmap_crops`.
        size: heatmap side in cells.
    Returns:
        (F, P, J, size, size) peak = confidence at the reported position; a second peak of
        0.6 x at the truth for swapped joints and outliers; zero where the joint is missing.
    """
    xy, conf, true_xy = obs["xy"], obs["conf"], obs["true_xy"]
    F, P, J = conf.shape
    cell = affine[..., 0, 0]                                    # (F, P) pixels per cell
    origin = affine[..., :, 2]                                  # (F, P, 2)
    grid = np.arange(size, dtype=np.float64)
    sig = np.maximum(1.0, 1.5 * obs["sigma_px"] / cell[..., None])  # (F, P, J) cells

    def peak(points, amp):
        c = (points - origin[:, :, None, :]) / cell[..., None, None]   # (F, P, J, 2) cells
        gx = np.exp(-0.5 * ((grid - c[..., 0:1]) / sig[..., None]) ** 2)
        gy = np.exp(-0.5 * ((grid - c[..., 1:2]) / sig[..., None]) ** 2)
        hm = gy[..., :, None] * gx[..., None, :]
        return np.nan_to_num(hm * amp[..., None, None])

    seen = conf > 0
    out = peak(xy, np.where(seen, conf, 0.0))
    wrong = (obs["outlier"] | obs["swapped"][..., None]) & seen
    if wrong.any():
        out = np.maximum(out, peak(true_xy, np.where(wrong, 0.6 * conf, 0.0)))
    return out.astype(dtype)


def camera_heatmaps(obs: dict, uv: np.ndarray, size: int, chunk: int = 32,
                    ) -> tuple[np.ndarray, np.ndarray]:
    """One camera's heatmaps, rendered ``chunk`` frames at a time to bound memory.

    Args:
        obs: the output of :func:`observe`. uv: (F, P, J, 2) exact pixel positions (the crops
            are taken around them). size: heatmap side in cells.
    Returns:
        affine (F, P, 2, 3) cell -> pixel, heatmaps (F, P, J, size, size) float16.
    """
    F = uv.shape[0]
    aff = heatmap_crops(uv, size)
    hms = np.zeros(obs["conf"].shape + (size, size), np.float16)
    for s in range(0, F, chunk):
        part = {k: v[s:s + chunk] for k, v in obs.items()}
        hms[s:s + chunk] = render_heatmaps(part, aff[s:s + chunk], size)
    return aff, hms
