"""Focal lengths found from points seen by several cameras when nothing is known of the lenses
(a pure function: image sizes and 2D points in, a first focal length out).

The model: principal point at the image centre, square pixels, no distortion, one focal
length shared by the cameras for this first guess (the bundle adjustment then refines one per
camera, and k1: :func:`calibration.people.refine_from_keypoints` with ``refine_focal``).

Why a sweep. The fundamental matrix of a pair gives the two focal lengths in closed form
(Bougnoux; or the equal singular values of the essential matrix, Mendonca-Cipolla), but not
when the two optical axes meet, which is how a motion-capture rig is built (every camera aims
at the middle of the volume): on the studio rigs they come out at 21 % and 94 % of the truth.
Three or more cameras do fix the focal length, through the consistency of the whole rig:
with the wrong focal the third camera cannot be placed on the points the first two
triangulate. So each focal of a geometric grid (:data:`FOCAL_RANGE` of the image width) is
scored by the cameras found with it (:mod:`calibration.bootstrap`: essential matrices, best
pair, PnP) as the median reprojection error of all the points triangulated by all the
cameras, and the best one is narrowed down by a golden-section search between its neighbours.
On the studio rigs the score falls from 10-20 px at 10 % off to 3-5 px at the truth.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace

import numpy as np

from calibration.bootstrap import (BootstrapOptions, check_connected, pair_poses,
                                   register_cameras, triangulate_registered)
from calibration.camera import Camera
from calibration.errors import InsufficientDataError

log = logging.getLogger(__name__)

__all__ = ["FOCAL_RANGE", "FOCAL_STEPS", "FocalSweep", "centred_cameras", "focal_score",
           "strongest_pairs", "sweep_focal"]

#: Focal lengths tried, as shares of the image width (0.35: a 110 degree lens; 3.5: 16 deg).
FOCAL_RANGE = (0.35, 3.5)
#: Focal lengths of the grid (geometric: about 10 % apart).
FOCAL_STEPS = 25
#: Golden-section steps between the best grid value's neighbours (about 0.5 % at the end: the bundle adjustment does the rest).
GOLDEN_STEPS = 8
#: Each camera's pairs tried during the sweep: its this many best-linked partners.
SWEEP_PARTNERS = 3
#: At most this many points per essential matrix during the sweep.
SWEEP_PAIR_POINTS = 600
#: RANSAC iterations of each essential matrix during the sweep (plenty at half outliers).
SWEEP_ESSENTIAL_ITERATIONS = 1000
#: RANSAC iterations of each PnP during the sweep (a wrong focal runs them all).
SWEEP_PNP_ITERATIONS = 200
#: At most this many points (drawn at random) are used for the sweep.
SWEEP_POINTS = 1500


@dataclass(frozen=True)
class FocalSweep:
    """A shared focal length found by the sweep.

    Attributes:
        ratio: the best focal length over the image width (each camera's focal is ``ratio``
            times its own width, pixels).
        ratios: (N,) the grid's ratios tried; scores: (N,) their median reprojection errors,
            pixels (inf where the cameras could not all be placed).
        score_px: the best focal's score.
    """

    ratio: float
    ratios: np.ndarray
    scores: np.ndarray
    score_px: float


def centred_cameras(names, sizes_wh, focal_px) -> tuple[Camera, ...]:
    """Pinhole cameras with focal ``focal_px`` (C,) pixels, principal point at the image
    centre (pixel (0, 0) is the centre of the top-left pixel), no distortion (5 zero
    coefficients, to be refined), pose identity."""
    out = []
    for name, (w, h), f in zip(names, sizes_wh, focal_px):
        K = np.array([[f, 0.0, (w - 1) / 2], [0.0, f, (h - 1) / 2], [0.0, 0.0, 1.0]])
        out.append(Camera.from_rvec(name, (int(w), int(h)), K, np.zeros(5), np.zeros(3),
                                    np.zeros(3), "pinhole"))
    return tuple(out)


def focal_score(xc: np.ndarray, seen: np.ndarray, focal_px: np.ndarray, names,
                options: BootstrapOptions) -> float:
    """Median reprojection error (pixels) of the points triangulated by the cameras found
    with focal lengths ``focal_px`` (C,); inf when they cannot all be placed.

    Args:
        xc: (C, N, 2) pixels relative to each image's centre, NaN where unseen.
        seen: (C, N) bool.
    """
    xn = xc / focal_px[:, None, None]
    pairs = pair_poses(xn, seen, focal_px, options, strongest_pairs(seen))
    try:
        check_connected(pairs, list(names), seen, options.min_shared)
        R, t, _ = register_cameras(xn, seen, pairs, focal_px, list(names), options, min_inliers=6)
    except InsufficientDataError:
        return math.inf
    X = triangulate_registered(xn, seen, R, t, np.ones(len(names), bool), focal_px, math.inf)
    Xc = np.einsum("cij,nj->cni", R, X) + t[:, None]
    with np.errstate(all="ignore"):
        err = np.linalg.norm(Xc[..., :2] / Xc[..., 2:] - xn, axis=-1) * focal_px[:, None]
    err = err[seen & np.isfinite(err)]
    return float(np.median(err)) if err.size else math.inf


def strongest_pairs(seen: np.ndarray, per_camera: int = SWEEP_PARTNERS) -> set:
    """The pairs ``(a, b)``, a < b, linking each camera to the ``per_camera`` others it
    shares most points with (``seen`` (C, N) bool): enough edges for the sweep's camera graph
    at a fraction of all pairs' cost on large rigs."""
    shared = (seen[:, None] & seen[None]).sum(axis=-1)
    np.fill_diagonal(shared, -1)
    out = set()
    for a in range(seen.shape[0]):
        for b in np.argsort(-shared[a])[:per_camera]:
            if shared[a, b] > 0:
                out.add((min(a, int(b)), max(a, int(b))))
    return out


def _golden(score, lo: float, hi: float, steps: int) -> tuple[float, float]:
    """The minimum ``(x, score(x))`` of a unimodal ``score`` on [lo, hi] (log-ratios)."""
    g = (math.sqrt(5) - 1) / 2
    a, b = lo, hi
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = score(c), score(d)
    for _ in range(steps):
        if fc <= fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = score(c)
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = score(d)
    return (c, fc) if fc <= fd else (d, fd)


def sweep_focal(names, sizes_wh, xy: np.ndarray, conf: np.ndarray | None = None,
                options: BootstrapOptions = BootstrapOptions()) -> FocalSweep:
    """The focal length (as a share of each image's width) that best explains points seen by
    several cameras (module docstring).

    Args:
        names: C camera names; sizes_wh: C image sizes (width, height), pixels.
        xy: (C, F, J, 2) pixels per camera, NaN where unseen.
        conf: (C, F, J) confidences (None: 1 where ``xy`` is finite).

    Raises:
        InsufficientDataError: fewer than 3 cameras (two views fit any focal length), or no
            focal of the grid places every camera.
    """
    C = len(names)
    if C < 3:
        raise InsufficientDataError(",".join(names), f"estimating the focal lengths needs at "
                                    f"least 3 cameras seeing the same points (two views fit any "
                                    f"focal length), found {C}: give the intrinsics instead")
    pts = np.asarray(xy, dtype=np.float64).reshape(C, -1, 2)
    cf = np.isfinite(pts[..., 0]) if conf is None else np.asarray(conf).reshape(C, -1) >= options.min_conf
    seen = cf & np.isfinite(pts[..., 0])
    keep = np.flatnonzero(seen.sum(axis=0) >= 2)
    if keep.size > SWEEP_POINTS:
        keep = np.sort(np.random.default_rng(options.seed).choice(keep, SWEEP_POINTS, replace=False))
    wh = np.asarray(sizes_wh, dtype=np.float64)
    xc = pts[:, keep] - ((wh - 1) / 2)[:, None]
    seen = seen[:, keep]
    xc[~seen] = np.nan

    quick = replace(options, max_pair_points=min(options.max_pair_points, SWEEP_PAIR_POINTS),
                    pnp_iterations=SWEEP_PNP_ITERATIONS,
                    essential_iterations=SWEEP_ESSENTIAL_ITERATIONS)

    def score(log_ratio: float) -> float:
        return focal_score(xc, seen, math.exp(log_ratio) * wh[:, 0], names, quick)

    grid = np.linspace(math.log(FOCAL_RANGE[0]), math.log(FOCAL_RANGE[1]), FOCAL_STEPS)
    scores = np.array([score(g) for g in grid])
    if not np.isfinite(scores).any():
        raise InsufficientDataError(",".join(names), "no focal length between "
                                    f"{FOCAL_RANGE[0]} and {FOCAL_RANGE[1]} image widths places "
                                    "every camera on the points the others triangulate")
    i = int(np.argmin(scores))
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]
    best, best_score = _golden(score, lo, hi, GOLDEN_STEPS)
    if best_score > scores[i]:
        best, best_score = grid[i], float(scores[i])
    log.info("focal sweep: %.3f image widths (median reprojection %.2f px; grid best %.3f at "
             "%.2f px)", math.exp(best), best_score, math.exp(grid[i]), scores[i])
    return FocalSweep(math.exp(best), np.exp(grid), scores, float(best_score))
