"""Temporal clean-up of 3D keypoint trajectories (time is axis 0, frames at the take's fps).

All functions are pure and NaN-aware: missing samples stay NaN unless a function's job is to
fill them, and then it says how far it may reach.
"""
from __future__ import annotations

import numpy as np
from scipy.signal import butter, sosfiltfilt

from .errors import MocapError

__all__ = ["fill_gaps", "butterworth_zero_phase", "hold_nearest", "runs"]


def runs(valid: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) index ranges of the True runs of a 1D bool array."""
    v = np.concatenate([[False], np.asarray(valid, bool), [False]])
    d = np.diff(v.astype(np.int8))
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)))


def _series(x: np.ndarray):
    """Iterate over 1D series of ``x`` (F, ...) as (index, view)."""
    flat = x.reshape(x.shape[0], -1)
    for k in range(flat.shape[1]):
        yield k, flat[:, k]


def fill_gaps(x: np.ndarray, max_gap: int) -> np.ndarray:
    """Linearly interpolate interior gaps of at most ``max_gap`` frames.

    Args:
        x: (F, ...) values over time, NaN = missing. max_gap: longest gap filled, frames.
    Returns:
        a copy of ``x`` with short interior gaps filled; gaps at the ends and longer gaps stay
        NaN.
    """
    out = np.array(x, dtype=np.float64, copy=True)
    flat = out.reshape(out.shape[0], -1)
    t = np.arange(out.shape[0])
    for k, s in _series(flat):
        ok = np.isfinite(s)
        if ok.all() or ok.sum() < 2:
            continue
        for a, b in runs(~ok):
            if a > 0 and b < len(s) and b - a <= max_gap:
                flat[a:b, k] = np.interp(t[a:b], t[ok], s[ok])
    return out


def butterworth_zero_phase(x: np.ndarray, cutoff_hz: float, fps: float, order: int = 4,
                           ) -> np.ndarray:
    """Zero-phase low-pass Butterworth filter along time, run on each finite stretch.

    Args:
        x: (F, ...) values over time, NaN = missing. cutoff_hz: cut-off frequency in Hz.
        fps: the take's frame rate. order: filter order (doubled by the forward-backward pass).
    Returns:
        the filtered copy; stretches too short for the filter are left as they were.
    """
    if cutoff_hz <= 0:
        return np.array(x, dtype=np.float64, copy=True)
    if cutoff_hz >= fps / 2:
        raise MocapError(
            f"[filter] cutoff_hz must be below the Nyquist frequency {fps / 2:g} Hz for a "
            f"{fps:g} fps take, found {cutoff_hz:g}")
    sos = butter(order, cutoff_hz, btype="low", fs=fps, output="sos")
    pad = 3 * (2 * len(sos) + 1)
    out = np.array(x, dtype=np.float64, copy=True)
    flat = out.reshape(out.shape[0], -1)
    for k, s in _series(flat):
        for a, b in runs(np.isfinite(s)):
            if b - a > pad:
                flat[a:b, k] = sosfiltfilt(sos, s[a:b])
    return out


def hold_nearest(x: np.ndarray) -> np.ndarray:
    """Fill every NaN with the nearest finite sample in time (for formats that cannot hold
    NaN, like BVH). Series that are NaN throughout stay NaN.

    Args:
        x: (F, ...) values over time.
    """
    out = np.array(x, dtype=np.float64, copy=True)
    flat = out.reshape(out.shape[0], -1)
    t = np.arange(out.shape[0])
    for k, s in _series(flat):
        ok = np.isfinite(s)
        if ok.all() or not ok.any():
            continue
        idx = np.flatnonzero(ok)
        pos = np.clip(np.searchsorted(idx, t), 1, len(idx) - 1) if len(idx) > 1 else None
        if pos is None:
            flat[:, k] = s[idx[0]]
            continue
        left, right = idx[pos - 1], idx[pos]
        nearest = np.where(np.abs(t - left) <= np.abs(right - t), left, right)
        flat[:, k] = s[nearest]
    return out
