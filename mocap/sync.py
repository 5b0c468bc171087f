"""Frame offsets between cameras, estimated from the motion of the 2D keypoints.

Convention (the virtual studio's): camera c's frame f shows the instant of the take's frame
``f + offsets[c]``; a positive offset means the camera started recording that many frames
after the reference. The first camera of the rig is the reference, ``offsets[0] = 0``.

How: every camera's joints give a speed signal, the vertical image velocity (central
differences, in person heights per frame; every upright camera sees a joint's up-and-down
motion with the same sign whatever its viewpoint), robustly standardised per joint (median,
MAD) and clipped to +-3 so that a bad joint or an outlier adds bounded noise, then high-passed
(a moving mean of about a second removed: slow drifts such as a person walking towards a
camera differ between views). For every pair of cameras and every lag the correlation is
pooled over joints (covariances summed before the ratio); the pair's lag is its peak. The
offsets come from all pairs by weighted least squares (while a pair disagrees with the
solution by more than a frame, the worst one is dropped and the system solved again: a pair
whose peak jumped to the next cycle of a repetitive motion). A camera's offset is applied
only if its correlation at the solution and the margin over any lag more than a frame away
are high enough; otherwise it is reported and left at 0. Slow motion (a squat) and repetitive
motion searched over more than half its period (a gait cycle) give flat or ambiguous curves:
the margin catches both (measured in the virtual studio, see ``tests/mocap/test_sync.py``).
"""
from __future__ import annotations

import json
import logging
import warnings
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy.ndimage import uniform_filter1d

from exporters.atomic import atomic_write

from .errors import SyncError
from .settings import SyncSettings
from .types import Detections2D

log = logging.getLogger(__name__)

__all__ = ["SyncError", "SyncResult", "joint_speeds", "lag_correlations", "estimate_offsets",
           "shift_detections", "synchronise", "subframe_peak"]

_MIN_CONF = 0.3
_MIN_OVERLAP = 10


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
    """

    camera_names: tuple[str, ...]
    offsets: tuple[int, ...]
    estimated: tuple[int, ...]
    correlation: tuple[float, ...]
    margin: tuple[float, ...]
    trusted: tuple[bool, ...]
    source: str = "estimated"

    def table(self) -> str:
        """A text table, one camera per line."""
        rows = [f"{'camera':<14}{'offset':>8}{'estimated':>11}{'corr':>8}{'margin':>8}  applied"]
        for i, n in enumerate(self.camera_names):
            rows.append(f"{n:<14}{self.offsets[i]:>8d}{self.estimated[i]:>11d}"
                        f"{self.correlation[i]:>8.2f}{self.margin[i]:>8.2f}  "
                        f"{'yes' if self.trusted[i] else 'no'}")
        return "\n".join(rows)

    def save(self, path: "str | Path") -> Path:
        """Write the result as JSON (atomically)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}
        doc["correlation"] = [None if not np.isfinite(c) else round(float(c), 4)
                              for c in self.correlation]
        doc["margin"] = [None if not np.isfinite(m) else round(float(m), 4)
                         for m in self.margin]
        with atomic_write(path, "w") as fh:
            json.dump(doc, fh, indent=2)
        return path


def joint_speeds(xy: np.ndarray, conf: np.ndarray, fps: float, min_conf: float = _MIN_CONF,
                 highpass_s: float = 1.0) -> np.ndarray:
    """Per-joint vertical speed signals of every camera, standardised and high-passed.

    The vertical image velocity is used: every upright camera sees a joint's up-and-down
    motion with the same sign, whatever its viewpoint.

    Args:
        xy: (C, F, P, J, 2) pixels (NaN = missing); conf: (C, F, P, J).
        fps: frame rate (sets the difference span, about 1/30 s, and the high-pass window).
        highpass_s: slow trends (a person walking towards a camera) are removed by
            subtracting a moving mean of this many seconds.
    Returns:
        (C, J, F): vertical velocity (central differences, in person heights per frame,
        averaged over the people present), robustly standardised per camera and joint
        (median and MAD) and clipped to +-3, minus its moving mean; NaN where missing.
    """
    xy = np.where((conf >= min_conf)[..., None], xy, np.nan)
    C, F = xy.shape[:2]
    with _quiet():
        extent = np.nanmax(xy[..., 1], -1) - np.nanmin(xy[..., 1], -1)        # (C, F, P)
        scale = np.nanmedian(extent.reshape(C, -1), axis=1)                    # (C,)
    scale = np.where(np.isfinite(scale) & (scale > 1), scale, 1.0)
    span = max(1, int(round(fps / 30.0)))
    vy = np.full(xy.shape[:-1], np.nan)
    vy[:, span:F - span] = (xy[:, 2 * span:, ..., 1] - xy[:, :F - 2 * span, ..., 1]) / (2 * span)
    with _quiet():
        v = np.nanmean(vy, axis=2) / scale[:, None, None]                       # (C, F, J)
        med = np.nanmedian(v, axis=1, keepdims=True)
        mad = 1.4826 * np.nanmedian(np.abs(v - med), axis=1, keepdims=True)
    z = np.clip((v - med) / np.where(mad > 1e-12, mad, np.nan), -3.0, 3.0)
    win = max(3, int(round(highpass_s * fps)) | 1)
    z = z - _nan_moving_mean(z, win)
    return np.moveaxis(z, 1, 2)


def _nan_moving_mean(z: np.ndarray, win: int) -> np.ndarray:
    """Moving mean along axis 1 over the finite samples of a window (NaN stays NaN)."""
    ok = np.isfinite(z)
    num = uniform_filter1d(np.where(ok, z, 0.0), win, axis=1, mode="nearest")
    den = uniform_filter1d(ok.astype(float), win, axis=1, mode="nearest")
    return np.where(ok, num / np.maximum(den, 1e-9), np.nan)


@contextmanager
def _quiet():
    """Silence the warnings of nan-reductions over empty slices (they give NaN, as wanted)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def lag_correlations(a: np.ndarray, b: np.ndarray, max_lag: int,
                     min_overlap: int = _MIN_OVERLAP) -> np.ndarray:
    """Correlation of ``a[:, t]`` with ``b[:, t + lag]``, pooled over joints.

    Each joint's signals are centred over the frames both cameras saw; covariances and
    variances are summed over joints before the ratio is taken, so a joint counts by how much
    it moves, and a bad joint (already clipped to +-3 by :func:`joint_speeds`) adds bounded
    noise, never a spike.

    Args:
        a, b: (J, F) signals, NaN = missing.
        max_lag: lags -max_lag .. max_lag are tried.
    Returns:
        (2 max_lag + 1,) correlations; NaN where fewer than ``min_overlap`` samples overlap.
    """
    J, F = a.shape
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


def _pair_curves(speeds: np.ndarray, max_lag: int) -> dict:
    """(c, d) -> (2 max_lag + 1,) pooled correlation per lag, for every pair c < d."""
    C = speeds.shape[0]
    return {(c, d): lag_correlations(speeds[c], speeds[d], max_lag)
            for c in range(C) for d in range(c + 1, C)}


def _solve(pairs: list, C: int) -> np.ndarray:
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


def estimate_offsets(det: Detections2D, settings: SyncSettings = SyncSettings()
                     ) -> SyncResult:
    """Estimate every camera's frame offset from keypoint motion (see the module's notes).

    Raises:
        SyncError: fewer frames than needed to compare any lag (the message says how many the
            take has, the minimum, and the settings that skip the estimate).
    """
    C, F = det.xy.shape[:2]
    names = det.camera_names
    max_lag = min(settings.max_offset_frames, (F - _MIN_OVERLAP) // 2)
    if C > 1 and max_lag < 1:             # max_offset_frames >= 1: too few frames
        raise SyncError(f"the take has {F} frames, too few to estimate the cameras' offsets "
                        f"(at least {_MIN_OVERLAP + 2}); set [sync] enabled = false in "
                        f"session.toml, or give [sync] offsets")
    if C == 1:
        return SyncResult(names, (0,), (0,), (1.0,), (np.inf,), (True,))
    speeds = joint_speeds(det.xy, det.conf, det.fps)
    curves = _pair_curves(speeds, max_lag)
    lags = np.arange(-max_lag, max_lag + 1)
    pairs = []
    for (c, d), curve in curves.items():
        if np.isfinite(curve).any():
            k = int(np.nanargmax(curve))
            pairs.append((c, d, float(lags[k]) + subframe_peak(curve, k),
                          max(float(curve[k]), 1e-3)))
    connected = {c for p in pairs if p[3] > 0 for c in p[:2]}
    sol = _solve(pairs, C) if pairs else np.zeros(C)
    while len(pairs) > C - 1:                # drop the pair that disagrees most, one by one
        res = [abs(sol[c] - sol[d] - lag) for c, d, lag, _ in pairs]
        if max(res) <= 1.0:
            break
        pairs = pairs[:int(np.argmax(res))] + pairs[int(np.argmax(res)) + 1:]
        sol = _solve(pairs, C)
    est = np.round(sol).astype(int)
    corr, margin = _evidence(curves, est, lags, C)
    trusted = np.array([c == 0 or (c in connected and corr[c] >= settings.min_correlation
                                   and margin[c] >= settings.min_margin) for c in range(C)])
    applied = np.where(trusted, est, 0)
    for c in np.flatnonzero(~trusted):
        log.warning("camera %s: offset %+d frames is not trusted (correlation %.2f, margin "
                    "%.2f; [sync] min_correlation = %g, min_margin = %g); left at 0",
                    names[c], est[c], corr[c], margin[c], settings.min_correlation,
                    settings.min_margin)
    return SyncResult(names, tuple(int(o) for o in applied), tuple(int(o) for o in est),
                      tuple(float(v) for v in corr), tuple(float(v) for v in margin),
                      tuple(bool(t) for t in trusted))


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


def _evidence(curves: dict, est: np.ndarray, lags: np.ndarray, C: int):
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


def shift_detections(det: Detections2D, offsets) -> Detections2D:
    """Detections re-timed so that frame f of every camera shows the take's instant f.

    Camera c's new frame f is its old frame ``f - offsets[c]``; frames it did not record are
    missing (NaN, confidence 0; heatmaps 0 with the affine of the nearest recorded frame).

    Args:
        offsets: (C,) int frames (see the module's convention).
    """
    offsets = np.asarray(offsets, int)
    C, F = det.xy.shape[:2]
    if offsets.shape != (C,):
        found = offsets.shape[0] if offsets.ndim else 0
        raise SyncError(f"offsets must have one entry per camera ({C}: "
                        f"{', '.join(det.camera_names)}), found {found}")
    if not offsets.any():
        return det
    xy = np.full_like(det.xy, np.nan)
    conf = np.zeros_like(det.conf)
    hm = None if det.heatmaps is None else np.zeros_like(det.heatmaps)
    aff = None if det.heatmap_affine is None else det.heatmap_affine.copy()
    for c, o in enumerate(offsets):
        dst = slice(max(0, o), F + min(0, o))
        src = slice(max(0, -o), F - max(0, o))
        xy[c, dst], conf[c, dst] = det.xy[c, src], det.conf[c, src]
        if hm is not None:
            hm[c, dst] = det.heatmaps[c, src]
            aff[c, dst] = det.heatmap_affine[c, src]
    return det.replace(xy=xy, conf=conf, heatmaps=hm, heatmap_affine=aff)


def synchronise(det: Detections2D, settings: SyncSettings,
                report: "str | Path | None" = None) -> tuple[Detections2D, SyncResult]:
    """The sync stage: estimate (or take from the settings) the offsets and apply them.

    Args:
        report: where to write the result as JSON (e.g. ``out/sync.json``), if anywhere.
    Returns:
        the re-timed detections and the result.
    """
    C = len(det.camera_names)
    if settings.offsets:
        if len(settings.offsets) != C:
            raise SyncError(f"[sync] offsets has {len(settings.offsets)} entries, the rig has "
                            f"{C} cameras ({', '.join(det.camera_names)})")
        o = tuple(int(v) for v in settings.offsets)
        nan = tuple(float("nan") for _ in range(C))
        result = SyncResult(det.camera_names, o, o, nan, nan, (True,) * C, "settings")
    elif not settings.enabled:
        z, nan = (0,) * C, tuple(float("nan") for _ in range(C))
        result = SyncResult(det.camera_names, z, z, nan, nan, (False,) * C, "disabled")
    else:
        result = estimate_offsets(det, settings)
    if any(result.offsets):
        log.info("camera offsets (frames): %s", dict(zip(det.camera_names, result.offsets)))
    if report is not None:
        result.save(report)
    return shift_detections(det, result.offsets), result
