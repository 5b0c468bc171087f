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
    y = np.where(conf >= min_conf, xy[..., 1], np.nan)                        # (C, F, K, J)
    F = y.shape[1]
    with quiet():
        extent = np.nanmax(y, -1) - np.nanmin(y, -1)                          # (C, F, K)
        scale = np.nanmedian(extent, axis=1)                                   # (C, K)
    scale = np.where(np.isfinite(scale) & (scale > 1), scale, 1.0)
    y = np.ascontiguousarray(np.transpose(y, (0, 2, 3, 1)))                   # (C, K, J, F)
    span = max(1, int(round(fps / 30.0)))
    v = np.full(y.shape, np.nan)
    v[..., span:F - span] = (y[..., 2 * span:] - y[..., :F - 2 * span]) / (2 * span)
    v /= scale[:, :, None, None]
    with quiet():           # along the contiguous last axis: the same medians, far faster
        med = np.nanmedian(v, axis=-1, keepdims=True)
        mad = 1.4826 * np.nanmedian(np.abs(v - med), axis=-1, keepdims=True)
    z = np.clip((v - med) / np.where(mad > 1e-12, mad, np.nan), -3.0, 3.0)
    win = max(3, int(round(highpass_s * fps)) | 1)
    return z - _nan_moving_mean(z, win)


def _nan_moving_mean(z: np.ndarray, win: int) -> np.ndarray:
    """Moving mean along the last axis over the finite samples of a window (NaN stays
    NaN)."""
    ok = np.isfinite(z)
    num = uniform_filter1d(np.where(ok, z, 0.0), win, axis=-1, mode="nearest")
    den = uniform_filter1d(ok.astype(float), win, axis=-1, mode="nearest")
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
    A, B = _moment_rows(a), _moment_rows(b)                                  # (N, 3, F)
    for k, lag in enumerate(range(-max_lag, max_lag + 1)):
        s = _overlap_sums(A[:, :, max(0, -lag):F - max(0, lag)],
                          B[:, :, max(0, lag):F - max(0, -lag)])
        n = s[:, 0, 0]
        if n.sum() < min_overlap:
            continue
        m = np.maximum(n, 1.0)
        cov = (s[:, 1, 1] - s[:, 1, 0] * s[:, 0, 1] / m).sum()
        vx = np.maximum(s[:, 2, 0] - s[:, 1, 0] ** 2 / m, 0.0).sum()
        vy = np.maximum(s[:, 0, 2] - s[:, 0, 1] ** 2 / m, 0.0).sum()
        denom = np.sqrt(vx * vy)
        scale = np.sqrt(s[:, 2, 0].sum() * s[:, 0, 2].sum())
        if denom > 1e-12 * scale and denom > 0:
            out[k] = cov / denom
    return out


_BLOCK = 4096          # frames per block of the overlap sums (cache-sized temporaries)


def _moment_rows(a: np.ndarray) -> np.ndarray:
    """(N, 3, F): per row, whether a sample is there (1/0), the sample (0 where missing) and
    its square: the sums of their products over two signals' overlap give every moment of
    the pooled correlation."""
    ok = np.isfinite(a)
    v = np.where(ok, a, 0.0)
    return np.stack([ok.astype(float), v, v * v], axis=1)


def _overlap_sums(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """(N, 3, 3): ``A[n] @ B[n].T`` summed over frame blocks: [0, 0] the overlap's samples,
    [1, 0] and [0, 1] the sums of x and y over it, [2, 0] and [0, 2] of their squares, [1, 1]
    of x y (x from A, y from B, both only where both are present)."""
    F = A.shape[-1]
    out = np.zeros((A.shape[0], 3, 3))
    for s in range(0, F, _BLOCK):
        out += np.matmul(A[:, :, s:s + _BLOCK], B[:, :, s:s + _BLOCK].transpose(0, 2, 1))
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
