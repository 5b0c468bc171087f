"""The motion signals sync compares: every person's vertical joint speeds in every camera, and
their correlation between two cameras at every lag, pooled over joints and over the people the
two cameras share.

Shapes: C cameras, F frames, K detection slots per camera (the detector's per-camera tracks),
J joints. Signals are unitless (robustly standardised), NaN where missing.
"""
from __future__ import annotations

import warnings
from contextlib import contextmanager

import numpy as np
from scipy.ndimage import uniform_filter1d

__all__ = ["MIN_CONF", "MIN_OVERLAP", "joint_speeds", "lag_correlations", "paired_rows",
           "subframe_peak", "quiet"]

MIN_CONF = 0.3
MIN_OVERLAP = 10


@contextmanager
def quiet():
    """Silence the warnings of nan-reductions over empty slices (they give NaN, as wanted)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def joint_speeds(xy: np.ndarray, conf: np.ndarray, fps: float, min_conf: float = MIN_CONF,
                 highpass_s: float = 1.0) -> np.ndarray:
    """Per-person, per-joint vertical speed signals of every camera, standardised, high-passed.

    The vertical image velocity is used: every upright camera sees a joint's up-and-down
    motion with the same sign, whatever its viewpoint. Each detection slot (one person as the
    camera's tracker follows it) keeps its own signal: people are never averaged together, so
    a person hidden in one camera cannot change what the others' signals look like there.

    Args:
        xy: (C, F, K, J, 2) pixels (NaN = missing); conf: (C, F, K, J).
        fps: frame rate (sets the difference span, about 1/30 s, and the high-pass window).
        highpass_s: slow trends (a person walking towards a camera) are removed by
            subtracting a moving mean of this many seconds.
    Returns:
        (C, K, J, F): vertical velocity (central differences, in the slot's person heights per
        frame), robustly standardised per camera, slot and joint (median and MAD) and clipped
        to +-3, minus its moving mean; NaN where missing.
    """
    xy = np.where((conf >= min_conf)[..., None], xy, np.nan)
    C, F, K = xy.shape[:3]
    with quiet():
        extent = np.nanmax(xy[..., 1], -1) - np.nanmin(xy[..., 1], -1)        # (C, F, K)
        scale = np.nanmedian(extent, axis=1)                                   # (C, K)
    scale = np.where(np.isfinite(scale) & (scale > 1), scale, 1.0)
    span = max(1, int(round(fps / 30.0)))
    vy = np.full(xy.shape[:-1], np.nan)                                        # (C, F, K, J)
    vy[:, span:F - span] = (xy[:, 2 * span:, ..., 1] - xy[:, :F - 2 * span, ..., 1]) / (2 * span)
    v = vy / scale[:, None, :, None]
    with quiet():
        med = np.nanmedian(v, axis=1, keepdims=True)
        mad = 1.4826 * np.nanmedian(np.abs(v - med), axis=1, keepdims=True)
    z = np.clip((v - med) / np.where(mad > 1e-12, mad, np.nan), -3.0, 3.0)
    win = max(3, int(round(highpass_s * fps)) | 1)
    z = z - _nan_moving_mean(z, win)
    return np.transpose(z, (0, 2, 3, 1))


def _nan_moving_mean(z: np.ndarray, win: int) -> np.ndarray:
    """Moving mean along axis 1 over the finite samples of a window (NaN stays NaN)."""
    ok = np.isfinite(z)
    num = uniform_filter1d(np.where(ok, z, 0.0), win, axis=1, mode="nearest")
    den = uniform_filter1d(ok.astype(float), win, axis=1, mode="nearest")
    return np.where(ok, num / np.maximum(den, 1e-9), np.nan)


def lag_correlations(a: np.ndarray, b: np.ndarray, max_lag: int,
                     min_overlap: int = MIN_OVERLAP) -> np.ndarray:
    """Correlation of ``a[:, t]`` with ``b[:, t + lag]``, pooled over rows.

    Each row's signals are centred over the frames both have; covariances and variances are
    summed over rows before the ratio is taken, so a row counts by how much it moves, and a
    bad joint (already clipped to +-3 by :func:`joint_speeds`) adds bounded noise, never a
    spike.

    Args:
        a, b: (N, F) signals (rows: joints, or joints of the people two cameras share), NaN =
            missing.
        max_lag: lags -max_lag .. max_lag are tried.
    Returns:
        (2 max_lag + 1,) correlations; NaN where fewer than ``min_overlap`` samples overlap.
    """
    F = a.shape[1]
    out = np.full(2 * max_lag + 1, np.nan)
    for k, lag in enumerate(range(-max_lag, max_lag + 1)):
        x = a[:, max(0, -lag):F - max(0, lag)]
        y = b[:, max(0, lag):F - max(0, -lag)]
        ok = np.isfinite(x) & np.isfinite(y)
        n = ok.sum(1, keepdims=True)
        if n.sum() < min_overlap:
            continue
        with np.errstate(all="ignore"):
            mx = np.where(ok, x, 0.0).sum(1, keepdims=True) / np.maximum(n, 1)
            my = np.where(ok, y, 0.0).sum(1, keepdims=True) / np.maximum(n, 1)
            x0, y0 = np.where(ok, x - mx, 0.0), np.where(ok, y - my, 0.0)
            denom = np.sqrt((x0 * x0).sum() * (y0 * y0).sum())
        if denom > 0:
            out[k] = (x0 * y0).sum() / denom
    return out


def paired_rows(sa: np.ndarray, sb: np.ndarray, links: np.ndarray,
                min_frames: int = 2 * MIN_OVERLAP) -> tuple[np.ndarray, np.ndarray]:
    """The signals of two cameras stacked person by person: for every slot pair (k, l) that is
    the same person in some frame, slot k's joints of camera a (kept only in the frames where
    the pair is linked) against slot l's of camera b.

    Args:
        sa, sb: (K, J, F) the two cameras' signals (:func:`joint_speeds`).
        links: (F, K, K) bool: slot k of camera a and slot l of camera b are one person.
        min_frames: slot pairs linked in fewer frames are left out (a few frames of a
            person say little about a lag, yet would weigh as much as a whole take).
    Returns:
        x, y: (N, F) rows for :func:`lag_correlations` (N = J x linked slot pairs).
    """
    ks, ls = np.nonzero(links.sum(0) >= min_frames)
    x = np.where(links[:, ks, ls].T[:, None, :], sa[ks], np.nan)              # (n, J, F)
    return x.reshape(-1, sa.shape[-1]), sb[ls].reshape(-1, sb.shape[-1])


def subframe_peak(curve: np.ndarray, k: int) -> float:
    """Where a correlation curve peaks relative to its best sample ``k``, in frames (a
    parabola through the peak and its two neighbours, within +-0.5; 0 at an edge or where a
    neighbour is missing). Synchronous cameras whose peak leans a little to one side (noise,
    a frame rate that makes the curve wide) then round to 0, not to the sample next to it."""
    if k <= 0 or k >= len(curve) - 1 or not np.isfinite(curve[k - 1:k + 2]).all():
        return 0.0
    a, b, c = curve[k - 1], curve[k], curve[k + 1]
    den = a - 2 * b + c
    return float(np.clip(0.5 * (a - c) / den, -0.5, 0.5)) if den < 0 else 0.0
