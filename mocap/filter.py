"""Temporal clean-up of 3D keypoint trajectories (time is axis 0, frames at the take's fps).

All functions are pure and NaN-aware: missing samples stay NaN unless a function's job is to
fill them, and then it says how far it may reach. Bone lengths (:func:`bone_lengths`,
:func:`robust_bone_lengths`) come from :mod:`mocap.geometry.bones`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .errors import MocapError
from .geometry.bones import bone_lengths, robust_bone_lengths
from .iir import butter_lowpass_sos, sosfiltfilt
from .keypoints import get_format
from .nanstats import nanmedian

if TYPE_CHECKING:
    from .settings import FilterSettings
    from .types import Points3D

__all__ = ["fill_gaps", "butterworth_zero_phase", "hold_nearest", "runs", "one_euro",
           "hampel_outliers", "hampel", "bone_lengths", "robust_bone_lengths",
           "enforce_bone_lengths", "inverse_sym3", "point_precision", "filter_points"]


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
    fill = _short_interior_gaps(~np.isfinite(flat), max_gap)          # (F, N) bool
    t = np.arange(out.shape[0])
    for k in np.flatnonzero(fill.any(0)):                              # series, not frames
        s, where = flat[:, k], fill[:, k]
        ok = np.isfinite(s)
        flat[where, k] = np.interp(t[where], t[ok], s[ok])
    return out


def _short_interior_gaps(missing: np.ndarray, max_gap: int) -> np.ndarray:
    """(F, N) bool: the samples of ``missing`` (F, N) that lie in a run of at most
    ``max_gap`` missing samples with a present sample on both sides."""
    F = missing.shape[0]
    idx = np.arange(F)[:, None]
    last_ok = np.maximum.accumulate(np.where(~missing, idx, -1), axis=0)      # -1: none yet
    next_ok = np.minimum.accumulate(np.where(~missing, idx, F)[::-1], axis=0)[::-1]
    return missing & (last_ok >= 0) & (next_ok < F) & (next_ok - last_ok - 1 <= max_gap)


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
    sos = butter_lowpass_sos(order, cutoff_hz, fps)
    pad = 3 * (2 * len(sos) + 1)
    out = np.array(x, dtype=np.float64, copy=True)
    flat = out.reshape(out.shape[0], -1)
    stretches: dict = {}                    # (start, stop) -> the series finite there
    for k, s in _series(flat):
        for a, b in runs(np.isfinite(s)):
            if b - a > pad:
                stretches.setdefault((a, b), []).append(k)
    for (a, b), cols in stretches.items():  # every series with the same stretch at once
        flat[a:b, cols] = sosfiltfilt(sos, flat[a:b, cols])
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


def one_euro(x: np.ndarray, fps: float, min_cutoff_hz: float = 1.5, beta: float = 1.0,
             d_cutoff_hz: float = 1.0) -> np.ndarray:
    """One-euro filter (Casiez et al., CHI 2012): causal low-pass whose cut-off rises with
    speed, so slow motion is smoothed hard and fast motion lags little.

    Args:
        x: (F, ...) values over time (metres for 3D points), NaN = missing; every series is
            filtered on its own and restarts after a gap.
        fps: the take's frame rate. min_cutoff_hz: cut-off at rest, Hz. beta: cut-off increase
            per unit of speed (Hz per metre/second for points). d_cutoff_hz: cut-off of the
            speed estimate, Hz.
    Returns:
        the filtered copy (NaN where ``x`` is NaN).
    """
    if not (fps > 0 and min_cutoff_hz > 0 and d_cutoff_hz > 0 and beta >= 0):
        raise MocapError(f"[filter] one-euro needs fps, min_cutoff_hz, d_cutoff_hz > 0 and "
                         f"beta >= 0, found {fps}, {min_cutoff_hz}, {d_cutoff_hz}, {beta}")
    x = np.asarray(x, dtype=np.float64)
    flat = x.reshape(x.shape[0], -1)
    out = np.full_like(flat, np.nan)

    def alpha(cutoff):
        tau = 1.0 / (2 * np.pi * cutoff)
        return 1.0 / (1.0 + tau * fps)

    a_d = alpha(d_cutoff_hz)
    prev = np.full(flat.shape[1], np.nan)
    dprev = np.zeros(flat.shape[1])
    for f in range(flat.shape[0]):
        v = flat[f]
        ok = np.isfinite(v)
        fresh = ok & ~np.isfinite(prev)
        dx = np.where(ok & ~fresh, (v - prev) * fps, 0.0)
        dhat = np.where(fresh, 0.0, a_d * dx + (1 - a_d) * dprev)
        a = alpha(min_cutoff_hz + beta * np.abs(dhat))
        xhat = np.where(fresh, v, a * v + (1 - a) * prev)
        out[f] = np.where(ok, xhat, np.nan)
        prev = np.where(ok, xhat, np.nan)
        dprev = np.where(ok, dhat, 0.0)
    return out.reshape(x.shape)


_BLOCK = 1 << 16     # window values per block of frames in :func:`hampel_outliers`


def hampel_outliers(x: np.ndarray, half_window: int, n_sigmas: float = 3.0,
                    min_deviation: float = 0.0) -> np.ndarray:
    """Spikes found by the Hampel identifier: samples further from the median of a centred
    window than ``n_sigmas`` robust standard deviations (1.4826 x the window's MAD).

    Args:
        x: (F, ...) values over time, NaN = missing (ignored in the window statistics).
        half_window: window half-width in frames (window = 2 h + 1).
        n_sigmas: threshold in robust standard deviations.
        min_deviation: deviations below this (units of x) are never spikes, so that a
            perfectly smooth stretch (MAD near 0) does not flag its noise.
    Returns:
        (F, ...) bool, True at spikes.
    """
    from numpy.lib.stride_tricks import sliding_window_view
    x = np.asarray(x, dtype=np.float64)
    h = int(half_window)
    if h < 1:
        return np.zeros(x.shape, bool)
    flat = x.reshape(x.shape[0], -1)
    pad = np.pad(flat, ((h, h), (0, 0)), constant_values=np.nan)
    spike = np.empty(flat.shape, bool)
    # frame blocks of about ``_BLOCK`` window values: the sorts' copies stay in the cache
    step = max(1, _BLOCK // max(1, flat.shape[1] * (2 * h + 1)))
    for a in range(0, flat.shape[0], step):
        b = min(flat.shape[0], a + step)
        win = sliding_window_view(pad[a:b + 2 * h], 2 * h + 1, axis=0)   # (b - a, N, W)
        med = nanmedian(win)
        mad = nanmedian(np.abs(win - med[..., None]))
        dev = np.abs(flat[a:b] - med)
        with np.errstate(invalid="ignore"):
            spike[a:b] = (dev > n_sigmas * 1.4826 * mad) & (dev > min_deviation)
    return spike.reshape(x.shape)


def hampel(x: np.ndarray, half_window: int, n_sigmas: float = 3.0,
           min_deviation: float = 0.0, vector_axis: bool = True) -> np.ndarray:
    """Remove spikes: Hampel outliers become NaN (missing), to be filled by :func:`fill_gaps`.

    Args:
        x: (F, ..., D) values over time; with ``vector_axis`` the last axis is one vector (a
            3D point), which is removed whole when any of its components is a spike.
        half_window, n_sigmas, min_deviation: see :func:`hampel_outliers`.
    Returns:
        a copy with the spikes set to NaN.
    """
    out = np.array(x, dtype=np.float64, copy=True)
    spike = hampel_outliers(out, half_window, n_sigmas, min_deviation)
    if vector_axis:
        spike = np.broadcast_to(spike.any(-1, keepdims=True), out.shape)
    out[spike] = np.nan
    return out


def enforce_bone_lengths(xyz: np.ndarray, bones: np.ndarray, lengths: np.ndarray,
                         conf: "np.ndarray | None" = None, iterations: int = 10,
                         precision: "np.ndarray | None" = None) -> np.ndarray:
    """Move joints so that every bone has its given length (constraint projection).

    Each sweep visits the bones in order and restores each bone's length by the smallest
    move of its two ends, measured by each end's ``precision`` H (the change of squared
    reprojection error per squared metre: a joint moves mostly along its viewing rays, where
    the cameras pin it least): ends move by ``mu * H^-1 u`` along the bone's direction u.
    Without ``precision`` H is the confidence times the identity (moves along the bone, the
    less confident end moving more; equal shares without ``conf``). Repeated sweeps converge
    on a tree. Missing joints stay missing and their bones are skipped.

    Args:
        xyz: (..., J, 3) points, metres. bones: (B, 2) indices.
        lengths: (B,) or broadcastable to (..., B) target lengths, metres (NaN = leave).
        conf: optional (..., J) confidences in [0, 1].
        iterations: number of sweeps.
        precision: optional (..., J, 3, 3) symmetric positive definite matrices (see
            :func:`point_precision`); replaces ``conf``.
    Returns:
        the adjusted copy.
    """
    xyz = np.asarray(xyz, dtype=np.float64)
    b = np.asarray(bones, int).reshape(-1, 2)
    L = np.moveaxis(np.broadcast_to(np.asarray(lengths, float), xyz.shape[:-2] + (len(b),)),
                    -1, 0)
    if precision is None:
        c = np.ones(xyz.shape[:-1]) if conf is None else np.clip(np.asarray(conf, float), 0, 1) + 1e-3
        inv_c = np.ascontiguousarray(np.moveaxis(1.0 / c, -1, 0))
        zero = np.zeros_like(inv_c)
        A = (inv_c, zero, zero, inv_c, zero, inv_c)
    else:
        A = tuple(np.ascontiguousarray(np.moveaxis(a, -1, 0))
                  for a in inverse_sym3(np.asarray(precision, float)))
    # joints first, one array per coordinate: each bone's two ends are contiguous blocks
    P = [np.moveaxis(xyz[..., k], -1, 0).copy() for k in range(3)]         # 3 x (J, ...)
    for _ in range(int(iterations)):
        for k, (i, j) in enumerate(b):
            _project_bone(P, A, i, j, L[k])
    return np.stack([np.moveaxis(p, 0, -1) for p in P], -1)


def _project_bone(P: list, A: tuple, i: int, j: int, length: np.ndarray) -> None:
    """One constraint projection of the bone (i, j) to ``length`` (...,), in place: P 3
    arrays (J, ...) metres, A 6 arrays (J, ...) of H^-1 (entries 00, 01, 02, 11, 12, 22)."""
    d = [p[j] - p[i] for p in P]
    n = np.sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2])
    ok = np.isfinite(n) & (n > 1e-9) & np.isfinite(length)
    if not ok.any():
        return
    with np.errstate(invalid="ignore", divide="ignore"):
        inv_n = np.where(ok, n, 1.0)
        u = [np.where(ok, a / inv_n, 0.0) for a in d]
        ai, aj = _sym_times(A, i, u), _sym_times(A, j, u)
        mu = (n - length) / (u[0] * (ai[0] + aj[0]) + u[1] * (ai[1] + aj[1])
                             + u[2] * (ai[2] + aj[2]))
    mu = np.where(ok & np.isfinite(mu), mu, 0.0)
    for p, a_i, a_j in zip(P, ai, aj):
        p[i] += mu * a_i
        p[j] -= mu * a_j


def _sym_times(A: tuple, j: int, u: list) -> list:
    """Joint j's symmetric 3 x 3 matrices (6 entries of A, each (J, ...)) times u (3 x (...))."""
    a00, a01, a02, a11, a12, a22 = (a[j] for a in A)
    return [a00 * u[0] + a01 * u[1] + a02 * u[2],
            a01 * u[0] + a11 * u[1] + a12 * u[2],
            a02 * u[0] + a12 * u[1] + a22 * u[2]]


def inverse_sym3(H: np.ndarray) -> tuple:
    """Inverses of symmetric 3 x 3 matrices in closed form (adjugate over determinant).

    Args:
        H: (..., 3, 3) symmetric, invertible (the upper triangle is read).
    Returns:
        6 arrays (...): entries 00, 01, 02, 11, 12, 22 of H^-1.
    """
    m00, m01, m02 = H[..., 0, 0], H[..., 0, 1], H[..., 0, 2]
    m11, m12, m22 = H[..., 1, 1], H[..., 1, 2], H[..., 2, 2]
    c00 = m11 * m22 - m12 * m12
    c01 = m02 * m12 - m01 * m22
    c02 = m01 * m12 - m02 * m11
    inv = 1.0 / (m00 * c00 + m01 * c01 + m02 * c02)
    return (c00 * inv, c01 * inv, c02 * inv, (m00 * m22 - m02 * m02) * inv,
            (m01 * m02 - m00 * m12) * inv, (m00 * m11 - m01 * m01) * inv)


def point_precision(xyz: np.ndarray, views_used: np.ndarray, R: np.ndarray, t: np.ndarray,
                    f_px: np.ndarray, floor: float = 1e-3, chunk: int = 8192) -> np.ndarray:
    """How firmly the cameras pin each point: ``H = sum_c J_c^T J_c`` over the views used,
    with ``J_c`` (2, 3) the derivative of camera c's pixel projection (pinhole, focal
    ``f_px``) at the point, plus ``floor`` times the largest eigenvalue's scale on the
    diagonal so that H stays invertible (a point seen once moves along its ray, a point seen by
    nobody moves like one seen isotropically).

    Args:
        xyz: (..., J, 3) world points, metres (NaN allowed). views_used: (..., J, C) bool.
        R: (C, 3, 3) ``R_cam_from_world``; t: (C, 3) metres; f_px: (C,) focal lengths.
        chunk: points per block (the arithmetic runs block by block so that its temporaries
            stay in the cache; the result does not depend on it).
    Returns:
        (..., J, 3, 3) pixels^2 per metre^2, symmetric.
    """
    X = np.asarray(xyz, float)
    used = np.asarray(views_used, bool)
    rows, C = X.reshape(-1, 3), used.shape[-1]
    used_rows = used.reshape(-1, C)
    out = np.empty((len(rows), 3, 3))
    R, t, f_px = (np.asarray(a, float) for a in (R, t, f_px))
    floor_scale = np.median(f_px) ** 2 / 100.0
    for a in range(0, len(rows), max(1, chunk)):
        b = min(len(rows), a + chunk)
        out[a:b] = _precision_rows(rows[a:b], used_rows[a:b], R, t, f_px, floor, floor_scale)
    return out.reshape(X.shape[:-1] + (3, 3))


def _precision_rows(X, used, R, t, f_px, floor: float, floor_scale: float) -> np.ndarray:
    """:func:`point_precision` of a block of points X (N, 3), used (N, C): (N, 3, 3).
    Per-camera arrays are views first, (C, N), one per coordinate."""
    X = np.nan_to_num(X)
    Xc = [R[:, k, 0, None] * X[:, 0] + R[:, k, 1, None] * X[:, 1] + R[:, k, 2, None] * X[:, 2]
          + t[:, k, None] for k in range(3)]                                    # 3 x (C, N)
    z = Xc[2]
    ok = used.T & (z > 1e-6)
    with np.errstate(divide="ignore", invalid="ignore"):
        x, y = Xc[0] / z, Xc[1] / z
        g = np.where(ok, (f_px[:, None] / z) ** 2, 0.0)
    x, y = np.where(ok, x, 0.0), np.where(ok, y, 0.0)
    # J_c^T J_c = (f/z)^2 (a a^T + b b^T), a = R_0 - x R_2, b = R_1 - y R_2 (rows of R): the
    # same as (f/z)^2 R^T [[1, 0, -x], [0, 1, -y], [-x, -y, x^2 + y^2]] R, without 3x3 products
    a = [R[:, 0, k, None] - x * R[:, 2, k, None] for k in range(3)]
    b = [R[:, 1, k, None] - y * R[:, 2, k, None] for k in range(3)]
    H = np.empty((X.shape[0], 3, 3))
    for i, j in ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)):
        H[:, i, j] = H[:, j, i] = (g * (a[i] * a[j] + b[i] * b[j])).sum(0)
    scale = np.maximum((H[:, 0, 0] + H[:, 1, 1] + H[:, 2, 2]) / 3.0, floor_scale)
    for k in range(3):
        H[:, k, k] += floor * scale
    return H


def filter_points(points: "Points3D", settings: "FilterSettings", rig=None) -> "Points3D":
    """The filter stage: remove spikes, fill short gaps, smooth, then make bone lengths constant.

    Steps (each off when its setting says so): Hampel spike removal (spikes become missing),
    linear gap filling up to ``max_gap_s``, the smoother (zero-phase Butterworth or one-euro,
    at the take's fps), and bone-length consistency (one median length per rigid bone and
    person, see ``KeypointFormat.rigid_bone_indices``, enforced by constraint projection:
    with the ``rig``, each joint moves where its cameras pin it least, along its rays).
    Filled samples get half the confidence interpolated from their neighbours; samples that
    stay missing keep NaN and confidence 0.
    """
    fps = points.fps
    xyz = points.xyz
    if settings.hampel_window_s > 0:
        xyz = hampel(xyz, int(round(settings.hampel_window_s * fps / 2)),
                     settings.hampel_n_sigmas, settings.hampel_min_deviation_m)
    seen = np.isfinite(xyz).all(-1)
    max_gap = int(round(settings.max_gap_s * fps))
    xyz = fill_gaps(xyz, max_gap)
    if settings.smoother == "butterworth":
        xyz = butterworth_zero_phase(xyz, settings.cutoff_hz, fps, settings.order)
    elif settings.smoother == "one_euro":
        xyz = one_euro(xyz, fps, settings.one_euro_min_cutoff_hz, settings.one_euro_beta,
                       settings.one_euro_d_cutoff_hz)
    conf_nan = np.where(seen, points.conf, np.nan)
    conf_filled = 0.5 * np.nan_to_num(fill_gaps(conf_nan, max_gap), nan=0.0)
    conf = np.where(seen, points.conf, conf_filled)
    if settings.bone_lengths and points.format:
        bones = get_format(points.format).rigid_bone_indices
        if len(bones):
            xyz = enforce_bone_lengths(xyz, bones, robust_bone_lengths(xyz, bones), conf,
                                       settings.bone_length_iterations,
                                       _rig_precision(points, xyz, rig))
    conf = np.where(np.isfinite(xyz).all(-1), conf, 0.0).astype(np.float32)
    return points.replace(xyz=xyz, conf=conf)


def _rig_precision(points: "Points3D", xyz: np.ndarray, rig) -> "np.ndarray | None":
    """Per-joint precision from the views that saw each joint (see :func:`point_precision`),
    or None without a rig or views."""
    if rig is None or points.views_used is None or tuple(points.camera_names) != tuple(rig.names):
        return None
    cams = rig.arrays()
    f = 0.5 * (cams.K[:, 0, 0] + cams.K[:, 1, 1])
    return point_precision(xyz, points.views_used, cams.R_cam_from_world, cams.t_cam_from_world, f)
