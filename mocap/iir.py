"""Butterworth low-pass filters in numpy: the design (``scipy.signal.butter(..., output="sos")``)
and the zero-phase forward-backward pass (``scipy.signal.sosfiltfilt`` with its default odd
padding and steady-state initial conditions), without importing ``scipy.signal`` (whose import
alone costs most of a second, more than filtering a ten-minute take).

A filter is a cascade of second-order sections, rows ``(b0, b1, b2, 1, a1, a2)`` as in scipy.
Each section runs in transposed direct form II; its state s (2,) moves by ``s_n = A s_{n-1} +
B x_n`` with ``y_n = b0 x_n + s_{n-1}[0]``. The samples are taken in blocks of ``block`` (32: short products, one BLAS thread): one
block of every series at once is two matrix products with the block's response matrices (the
exact recursion, unrolled), so the Python loop runs over blocks, not samples.

Time is axis 0; columns (axis 1) are independent series of equal length.
"""
from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_limits

__all__ = ["butter_lowpass_sos", "sosfilt_zi", "sosfilt", "sosfiltfilt", "sosfiltfilt_padlen"]


def butter_lowpass_sos(order: int, cutoff_hz: float, fps: float) -> np.ndarray:
    """Digital Butterworth low-pass of ``order`` as second-order sections (S, 6), S =
    ceil(order / 2): the analogue prototype's poles, pre-warped, through the bilinear
    transform; zeros at -1; each conjugate pole pair one section (the pair nearest the unit
    circle last), the real pole of an odd order first, the gain on the first section.

    Args:
        order: >= 1. cutoff_hz: the -3 dB frequency, 0 < cutoff_hz < fps / 2. fps: samples/s.
    """
    N = int(order)
    warped = 4.0 * np.tan(np.pi * (2.0 * cutoff_hz / fps) / 2.0)
    p = warped * -np.exp(1j * np.pi * np.arange(-N + 1, N, 2) / (2 * N))       # analogue
    pz = (4.0 + p) / (4.0 - p)                                                  # digital
    k = float(np.real(warped ** N / np.prod(4.0 - p)))
    upper = pz[pz.imag > 1e-12]
    upper = upper[np.argsort(np.abs(upper))]                 # nearest the unit circle last
    rows = []
    real = pz[np.abs(pz.imag) <= 1e-12]
    for r in real.real:
        rows.append([1.0, 1.0, 0.0, 1.0, -r, 0.0])
    for q in upper:
        rows.append([1.0, 2.0, 1.0, 1.0, -2.0 * q.real, abs(q) ** 2])
    sos = np.array(rows, float)
    sos[0, :3] *= k
    return sos


def sosfilt_zi(sos: np.ndarray) -> np.ndarray:
    """(S, 2) initial states for a step response in steady state (input 1 forever before)."""
    zi = np.empty((len(sos), 2))
    scale = 1.0
    for i, (b0, b1, b2, _, a1, a2) in enumerate(sos):
        A = np.array([[-a1, 1.0], [-a2, 0.0]])
        zi[i] = scale * np.linalg.solve(np.eye(2) - A, [b1 - a1 * b0, b2 - a2 * b0])
        scale *= (b0 + b1 + b2) / (1.0 + a1 + a2)
    return zi


def _block_maps(section: np.ndarray, L: int):
    """The section's recursion unrolled over L samples: y = T x + O s, s' = P s + W x
    (T (L, L), O (L, 2), P (2, 2), W (2, L))."""
    b0, b1, b2, _, a1, a2 = section
    A = np.array([[-a1, 1.0], [-a2, 0.0]])
    B = np.array([b1 - a1 * b0, b2 - a2 * b0])
    powers = [np.eye(2)]
    for _ in range(L):
        powers.append(A @ powers[-1])
    O = np.array([powers[i][0] for i in range(L)])                           # C A^i
    h = np.concatenate([[b0], [powers[i][0] @ B for i in range(L - 1)]])      # impulse
    idx = np.arange(L)
    lag = idx[:, None] - idx[None, :]
    T = np.where(lag >= 0, h[np.clip(lag, 0, L - 1)], 0.0)
    W = np.stack([powers[L - 1 - k] @ B for k in range(L)], 1)
    return T, O, powers[L], W


def sosfilt(sos: np.ndarray, x: np.ndarray, zi: np.ndarray, block: int = 32) -> np.ndarray:
    """Filter the series x (F, N) through the sections from states zi (S, 2, N)."""
    y = np.array(x, dtype=np.float64, copy=True)
    F = len(y)
    for i, section in enumerate(sos):
        L = min(block, F)
        T, O, P, W = _block_maps(section, L)
        s = np.array(zi[i], dtype=np.float64)
        for a in range(0, F, L):
            xb = y[a:a + L]
            n = len(xb)
            if n < L:
                T, O, P, W = _block_maps(section, n)
            yb = T @ xb + O @ s
            s = P @ s + W @ xb
            y[a:a + n] = yb
    return y


def sosfiltfilt_padlen(sos: np.ndarray) -> int:
    """The odd extension's length at each end (scipy's default: 3 x the filter's taps)."""
    taps = 2 * len(sos) + 1 - min(int((sos[:, 2] == 0).sum()), int((sos[:, 5] == 0).sum()))
    return 3 * taps


def sosfiltfilt(sos: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Zero-phase filtering of the series x (F, N) (or (F,)): odd extension, forward pass from
    the steady state of the first sample, backward pass from that of the last, extension cut.
    Needs F > :func:`sosfiltfilt_padlen`."""
    x = np.asarray(x, dtype=np.float64)
    one = x.ndim == 1
    x = x[:, None] if one else x
    n = sosfiltfilt_padlen(sos)
    ext = np.concatenate([2 * x[:1] - x[n:0:-1], x, 2 * x[-1:] - x[-2:-n - 2:-1]])
    zi = sosfilt_zi(sos)[:, :, None]
    with threadpool_limits(limits=1, user_api="blas"):    # small products: threads only wait
        y = sosfilt(sos, ext, zi * ext[0])
        y = sosfilt(sos, y[::-1], zi * y[-1])[::-1]
    y = y[n:len(y) - n]
    return y[:, 0] if one else y
