"""Frame offsets estimated from the motion of the people every two cameras share, and the test
an offset must pass before it is applied (see :mod:`mocap.sync` for the whole method).

Shapes: C cameras, F frames, K detection slots per camera, J joints.
"""
from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from calibration import Rig
from exporters.atomic import atomic_write

from ..errors import SyncError
from ..settings import SyncSettings
from ..types import Detections2D
from .links import geometric_links, motion_links, present
from .signals import (MIN_CONF, MIN_OVERLAP, joint_speeds, lag_correlations, paired_rows,
                      subframe_peak)

log = logging.getLogger("mocap.sync")

__all__ = ["SyncResult", "estimate_offsets", "gain_over_zero", "interior_peak", "solve_pairs",
           "pair_evidence"]


@dataclass(frozen=True)
class SyncResult:
    """Estimated frame offsets of a take.

    Attributes:
        camera_names: (C,) rig order.
        offsets: (C,) int frames, applied ones (0 where not trusted); offsets[0] = 0.
        estimated: (C,) int frames, what the motion says, trusted or not.
        correlation: (C,) pooled correlation at the estimated offsets, averaged over the
            camera's pairs (NaN for a camera that shares no frames with any other).
        margin: (C,) how much that beats the best correlation at any lag more than one frame
            away.
        trusted: (C,) bool, whether the estimate was applied.
        source: ``estimated``, ``settings`` (offsets given) or ``disabled``.
        gain_t: (C,) how clearly the estimated offset beats none: the t statistic of the
            correlation gained over the synchronous lag, over blocks of time (NaN where the
            estimate is 0 or equals every other camera's).
    """

    camera_names: tuple[str, ...]
    offsets: tuple[int, ...]
    estimated: tuple[int, ...]
    correlation: tuple[float, ...]
    margin: tuple[float, ...]
    trusted: tuple[bool, ...]
    source: str = "estimated"
    gain_t: tuple[float, ...] = ()

    def table(self) -> str:
        """A text table, one camera per line."""
        rows = [f"{'camera':<14}{'offset':>8}{'estimated':>11}{'corr':>8}{'margin':>8}"
                f"{'gain t':>8}  applied"]
        gain = self.gain_t or (float("nan"),) * len(self.camera_names)
        for i, n in enumerate(self.camera_names):
            rows.append(f"{n:<14}{self.offsets[i]:>8d}{self.estimated[i]:>11d}"
                        f"{self.correlation[i]:>8.2f}{self.margin[i]:>8.2f}{gain[i]:>8.1f}  "
                        f"{'yes' if self.trusted[i] else 'no'}")
        return "\n".join(rows)

    def save(self, path: "str | Path") -> Path:
        """Write the result as JSON (atomically)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}
        for key in ("correlation", "margin", "gain_t"):
            doc[key] = [None if not np.isfinite(c) else round(float(c), 4)
                        for c in getattr(self, key)]
        with atomic_write(path, "w") as fh:
            json.dump(doc, fh, indent=2)
        return path


def solve_pairs(pairs: list, C: int) -> np.ndarray:
    """Offsets (C,) with offsets[0] = 0 from weighted equations o_c - o_d = lag."""
    if C == 1:
        return np.zeros(1)
    A = np.zeros((len(pairs), C - 1))
    y = np.zeros(len(pairs))
    w = np.zeros(len(pairs))
    for i, (c, d, lag, weight) in enumerate(pairs):
        if c > 0:
            A[i, c - 1] = 1.0
        if d > 0:
            A[i, d - 1] = -1.0
        y[i], w[i] = lag, weight
    sol = np.linalg.lstsq(A * w[:, None], y * w, rcond=None)[0]
    return np.concatenate([[0.0], sol])


def interior_peak(curve: np.ndarray) -> "int | None":
    """Index of a correlation curve's highest local maximum inside the lags searched (not at
    either end: a curve still rising at the end of the search peaks outside it, often a
    step or a gait cycle away, and its end says nothing about the lag); None if there is none.
    """
    c = np.where(np.isfinite(curve), curve, -np.inf)
    inner = np.flatnonzero((c[1:-1] >= c[:-2]) & (c[1:-1] >= c[2:]) & np.isfinite(c[1:-1])) + 1
    return int(inner[np.argmax(c[inner])]) if len(inner) else None


def _consistent_solution(curves: dict, lags: np.ndarray, C: int) -> tuple[np.ndarray, set]:
    """Offsets (C,) int from every pair's peak (weighted least squares; while a pair disagrees
    with the solution by more than a frame, the worst is dropped) and the cameras connected
    to another by a positive peak."""
    pairs = []
    for (c, d), curve in curves.items():
        k = interior_peak(curve)
        if k is not None:
            pairs.append((c, d, float(lags[k]) + subframe_peak(curve, k),
                          max(float(curve[k]), 1e-3)))
    connected = {c for p in pairs if p[3] > 0 for c in p[:2]}
    sol = solve_pairs(pairs, C) if pairs else np.zeros(C)
    while len(pairs) > C - 1:
        res = [abs(sol[c] - sol[d] - lag) for c, d, lag, _ in pairs]
        if max(res) <= 1.0:
            break
        pairs = pairs[:int(np.argmax(res))] + pairs[int(np.argmax(res)) + 1:]
        sol = solve_pairs(pairs, C)
    return np.round(sol).astype(int), connected


def pair_evidence(curves: dict, est: np.ndarray, lags: np.ndarray, C: int):
    """Per camera: mean over its pairs of the curve at the solution's lag, and its margin
    over the best lag more than one frame away."""
    corr = [[] for _ in range(C)]
    margin = [[] for _ in range(C)]
    for (c, d), curve in curves.items():
        lag = est[c] - est[d]
        if not np.isfinite(curve).any() or abs(lag) > lags[-1]:
            continue
        k = int(lag - lags[0])
        away = np.abs(lags - lag) > 1
        at = curve[k]
        other = np.nanmax(curve[away]) if np.isfinite(curve[away]).any() else -1.0
        for cam in (c, d):
            corr[cam].append(at)
            margin[cam].append(at - other)
    mean = lambda v: float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")  # noqa
    return (np.array([mean(np.array(v, float)) for v in corr]),
            np.array([mean(np.array(v, float)) for v in margin]))


def _frame_terms(x: np.ndarray, y: np.ndarray, lag: int) -> np.ndarray:
    """(F,) per-frame terms of the pooled correlation of x[:, t] with y[:, t + lag] (they sum
    to it; rows centred on their means, which the high-pass keeps near 0)."""
    F = x.shape[1]
    xs = x[:, max(0, -lag):F - max(0, lag)]
    ys = y[:, max(0, lag):F - max(0, -lag)]
    ok = np.isfinite(xs) & np.isfinite(ys)
    out = np.zeros(F)
    if ok.sum() < MIN_OVERLAP:
        return out
    n = np.maximum(ok.sum(1, keepdims=True), 1)
    x0 = np.where(ok, xs - np.where(ok, xs, 0.0).sum(1, keepdims=True) / n, 0.0)
    y0 = np.where(ok, ys - np.where(ok, ys, 0.0).sum(1, keepdims=True) / n, 0.0)
    den = np.sqrt((x0 * x0).sum() * (y0 * y0).sum())
    if den > 0:
        out[max(0, -lag):F - max(0, lag)] = np.nan_to_num(x0 * y0).sum(0) / den
    return out


def gain_over_zero(rows: dict, offsets: np.ndarray, group, block: int) -> float:
    """How clearly a group of cameras' common offset beats none, the other cameras staying at
    theirs: over the pairs between the group and the rest, the correlation at the lag the
    offsets give minus the one at the lag with the group at 0, summed per block of ``block``
    frames; returns mean / standard error of the block sums (a t statistic; NaN when no pair
    or fewer than three blocks).

    Args:
        rows: {(c, d): (x, y)} paired signals (:func:`mocap.sync.signals.paired_rows`).
        offsets: (C,) int frames. group: camera indices sharing one offset.
    """
    zero = np.array(offsets, int).copy()
    zero[list(group)] = 0
    terms = [_frame_terms(x, y, int(offsets[a] - offsets[d]))
             - _frame_terms(x, y, int(zero[a] - zero[d]))
             for (a, d), (x, y) in rows.items() if (a in group) != (d in group) and len(x)]
    if not terms:
        return float("nan")
    p = np.mean(terms, axis=0)
    nb = len(p) // block
    if nb < 3:
        return float("nan")
    sums = p[:nb * block].reshape(nb, block).sum(1)
    sd = sums.std(ddof=1)
    return float(sums.mean() / (sd / np.sqrt(nb))) if sd > 0 else float(np.sign(sums.mean()) * np.inf)


def _pair_rows(det: Detections2D, speeds: np.ndarray, rig: "Rig | None",
               max_lag: int) -> dict:
    """{(c, d): (x, y)} the two cameras' signals of the people they share (see links)."""
    alive = present(det, MIN_CONF)
    links = (geometric_links(det, rig, MIN_CONF) if rig is not None
             else motion_links(speeds, alive, max_lag))
    return {(c, d): paired_rows(speeds[c], speeds[d], lk) for (c, d), lk in links.items()}


def _zero_test(rows: dict, est: np.ndarray, trusted: np.ndarray, block: int,
               min_t: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Offsets applied: the trusted estimates whose gain over no offset is significant.

    Cameras estimated at one common offset form a group and are tested together against
    that group at 0, every other camera at its estimate (a camera split from its group would
    be tested against the wrong lag on the pairs within the group).

    Returns:
        applied (C,) int, trusted (C,) bool, gain_t (C,): each camera's group's t statistic
        (NaN for offset 0).
    """
    gain = np.full(len(est), np.nan)
    for value in np.unique(est[est != 0]):
        group = np.flatnonzero(est == value)
        gain[group] = gain_over_zero(rows, est, set(group.tolist()), block)
    trusted = trusted & ((est == 0) | (gain >= min_t))
    return np.where(trusted, est, 0), trusted, gain


def _too_short(F: int) -> SyncError:
    return SyncError(f"the take has {F} frames, too few to estimate the cameras' offsets "
                     f"(at least {MIN_OVERLAP + 2}); set [sync] enabled = false in "
                     f"session.toml, or give [sync] offsets")


def estimate_offsets(det: Detections2D, settings: SyncSettings = SyncSettings(),
                     rig: "Rig | None" = None) -> SyncResult:
    """Estimate every camera's frame offset from the motion of the people (see
    :mod:`mocap.sync`).

    Args:
        det: (C, F, K, J) detections, slots in each camera's own order.
        rig: the calibration (rig order); with it, the people two cameras share are matched
            by epipolar geometry, without it by motion alone (weaker in a crowd).
    Raises:
        SyncError: fewer frames than needed to compare any lag (the message says how many the
            take has, the minimum, and the settings that skip the estimate).
    """
    C, F = det.xy.shape[:2]
    names = det.camera_names
    max_lag = min(settings.max_offset_frames, (F - MIN_OVERLAP) // 2)
    if C > 1 and max_lag < 1:             # max_offset_frames >= 1: too few frames
        raise _too_short(F)
    if C == 1:
        return SyncResult(names, (0,), (0,), (1.0,), (np.inf,), (True,), gain_t=(np.nan,))
    speeds = joint_speeds(det.xy, det.conf, det.fps)
    rows = _pair_rows(det, speeds, rig, max_lag)
    curves = {p: (lag_correlations(x, y, max_lag) if len(x)
                       else np.full(2 * max_lag + 1, np.nan)) for p, (x, y) in rows.items()}
    lags = np.arange(-max_lag, max_lag + 1)
    est, connected = _consistent_solution(curves, lags, C)
    corr, margin = pair_evidence(curves, est, lags, C)
    trusted = np.array([c == 0 or (c in connected and abs(est[c]) <= max_lag
                                   and corr[c] >= settings.min_correlation
                                   and margin[c] >= settings.min_margin) for c in range(C)])
    block = max(3, int(round(det.fps * _BLOCK_S)))
    applied, trusted, gain = _zero_test(rows, est, trusted, block, settings.min_gain_t)
    for c in np.flatnonzero(~trusted):
        log.warning("camera %s: offset %+d frames is not trusted (correlation %.2f, margin "
                    "%.2f, gain over no offset t = %.1f; [sync] min_correlation = %g, "
                    "min_margin = %g, min_gain_t = %g); left at 0", names[c], est[c], corr[c],
                    margin[c], gain[c], settings.min_correlation, settings.min_margin,
                    settings.min_gain_t)
    return SyncResult(names, tuple(int(o) for o in applied), tuple(int(o) for o in est),
                      tuple(float(v) for v in corr), tuple(float(v) for v in margin),
                      tuple(bool(t) for t in trusted), gain_t=tuple(float(g) for g in gain))


_BLOCK_S = 1.0 / 3.0     # block length of the zero test, seconds (about a step's half)
