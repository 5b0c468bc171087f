"""Sync never offsets synchronous cameras, and finds true offsets: measured on rendered takes
and on simulated crowds, the new estimate (each person's motion matched across views by the
calibration, an offset applied only when it beats none) side by side with the previous one
(the motion averaged over whoever a camera sees) in the same run.

Takes:

* every rendered take in ``<cache>/bench/pixels`` with detections (``out/detections.npz``,
  made by ``benchmarks/pixels.py``): synchronous as rendered, then the same detections
  re-timed by known offsets (frames trimmed from a camera's start, as a camera that started
  late records them);
* simulated (``mocap.simulate``, studio4, body25, the default detector error model): two
  people walking side by side 1 m apart (the rendered two-actor layout), 60 frames at
  30 fps, synchronous, with the first hidden in camera 1 from frame 30 or 45, or truly
  offset.

Printed per group of takes: takes, cameras whose applied offset is wrong (the count that
must be 0), cameras truly offset, those found (estimated) and those applied.

    .venv/bin/python benchmarks/sync.py [--seeds 10]
"""
from __future__ import annotations

import os
import sys

sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

import argparse  # noqa: E402
import logging  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from scipy.ndimage import uniform_filter1d  # noqa: E402

from calibration import Rig  # noqa: E402
from mocap.datasets import cache_dir  # noqa: E402
from mocap.settings import SyncSettings  # noqa: E402
from mocap.simulate import Actor, ErrorModel, load_rig_template, simulate_take  # noqa: E402
from mocap.sync import estimate_offsets, shift_detections  # noqa: E402
from mocap.sync.estimate import SyncResult, pair_evidence, solve_pairs  # noqa: E402
from mocap.sync.signals import lag_correlations, quiet, subframe_peak  # noqa: E402
from mocap.types import Detections2D  # noqa: E402

SHIFTS = ((0, 3, 0, -2), (0, 1, 1, 1), (0, -1, 0, 0), (0, 5, -4, 2))


def previous_speeds(det: Detections2D) -> np.ndarray:
    """The previous signals: (C, J, F) per camera and joint, the vertical speed averaged over
    the people present, standardised (median, MAD), clipped, high-passed (1 s)."""
    xy = np.where((det.conf >= 0.3)[..., None], det.xy, np.nan)
    C, F = xy.shape[:2]
    with quiet():
        ext = np.nanmax(xy[..., 1], -1) - np.nanmin(xy[..., 1], -1)
        scale = np.nanmedian(ext.reshape(C, -1), axis=1)
        scale = np.where(np.isfinite(scale) & (scale > 1), scale, 1.0)
        span = max(1, int(round(det.fps / 30.0)))
        vy = np.full(xy.shape[:-1], np.nan)
        vy[:, span:F - span] = (xy[:, 2 * span:, ..., 1] - xy[:, :F - 2 * span, ..., 1]) / (2 * span)
        v = np.nanmean(vy, axis=2) / scale[:, None, None]
        med = np.nanmedian(v, axis=1, keepdims=True)
        mad = 1.4826 * np.nanmedian(np.abs(v - med), axis=1, keepdims=True)
        z = np.clip((v - med) / np.where(mad > 1e-12, mad, np.nan), -3, 3)
    ok = np.isfinite(z)
    win = max(3, int(round(det.fps)) | 1)
    num = uniform_filter1d(np.where(ok, z, 0.0), win, axis=1, mode="nearest")
    den = uniform_filter1d(ok.astype(float), win, axis=1, mode="nearest")
    return np.moveaxis(np.where(ok, z - num / np.maximum(den, 1e-9), np.nan), 1, 2)


def previous_offsets(det: Detections2D, settings: SyncSettings = SyncSettings()) -> tuple:
    """The previous estimate (before per-person signals and the zero test), as it was:
    every pair's highest peak with its sub-frame refinement, weighted least squares with the
    worst pair dropped while one disagrees by more than a frame, applied where correlation
    and margin are high enough."""
    C, F = det.xy.shape[:2]
    z = previous_speeds(det)
    max_lag = min(settings.max_offset_frames, (F - 10) // 2)
    lags = np.arange(-max_lag, max_lag + 1)
    curves = {(c, d): lag_correlations(z[c], z[d], max_lag)
              for c in range(C) for d in range(c + 1, C)}
    pairs = [(c, d, float(lags[k]) + subframe_peak(cv, k), max(float(cv[k]), 1e-3))
             for (c, d), cv in curves.items() if np.isfinite(cv).any()
             for k in [int(np.nanargmax(cv))]]
    connected = {c for p in pairs if p[3] > 0 for c in p[:2]}
    sol = solve_pairs(pairs, C)
    while len(pairs) > C - 1:
        res = [abs(sol[c] - sol[d] - lag) for c, d, lag, _ in pairs]
        if max(res) <= 1.0:
            break
        pairs.pop(int(np.argmax(res)))
        sol = solve_pairs(pairs, C)
    est = np.round(sol).astype(int)
    corr, margin = pair_evidence(curves, est, lags, C)
    return tuple(int(est[c]) if c == 0 or (c in connected and corr[c] >= settings.min_correlation
                                           and margin[c] >= settings.min_margin) else 0
                 for c in range(C))


def side_by_side(rig, seed, hidden_from=None, offsets=None, frames=60):
    actors = [Actor("walk", seed=seed, xy_offset_m=(0.0, -0.5)),
              Actor("walk", seed=seed + 1, xy_offset_m=(0.0, 0.5))]
    det = simulate_take(rig, actors, frames, 30.0, "body25", ErrorModel(), seed=seed,
                        camera_offsets=offsets).detections
    xy, conf = det.xy.copy(), det.conf.copy()
    if hidden_from is not None:
        xy[0, hidden_from:, 0], conf[0, hidden_from:, 0] = np.nan, 0.0
    perm = [np.random.default_rng(seed + c).permutation(2) for c in range(xy.shape[0])]
    return det.replace(xy=np.stack([xy[c][:, p] for c, p in enumerate(perm)]),
                       conf=np.stack([conf[c][:, p] for c, p in enumerate(perm)]))


class Tally:
    """Per group of takes: takes, wrong applied offsets, true offsets, found, applied."""

    def __init__(self):
        self.rows = {}

    def add(self, group: str, method: str, true, applied, estimated=None) -> None:
        r = self.rows.setdefault((group, method), [0, 0, 0, 0, 0])
        true, applied = np.asarray(true), np.asarray(applied)
        r[0] += 1
        r[1] += int(((applied != 0) & (applied != true)).sum())
        r[2] += int((true != 0).sum())
        if estimated is not None:
            r[3] += int(((np.asarray(estimated) == true) & (true != 0)).sum())
        r[4] += int(((applied == true) & (true != 0)).sum())

    def print(self) -> None:
        print("| takes | method | n | wrong offsets applied | cameras truly offset | found "
              "(estimated) | applied |")
        print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
        for (group, method), (n, wrong, off, found, applied) in self.rows.items():
            f = f"{found}" if method == "new" else "-"
            print(f"| {group} | {method} | {n} | {wrong} | {off} | {f} | {applied} |")


def score(tally: Tally, group: str, det, rig, true) -> SyncResult:
    r = estimate_offsets(det, rig=rig)
    tally.add(group, "new", true, r.offsets, r.estimated)
    tally.add(group, "previous", true, previous_offsets(det))
    return r


def rendered(tally: Tally) -> None:
    for root in sorted((cache_dir() / "bench" / "pixels").glob("*")):
        if not (root / "out" / "detections.npz").is_file():
            continue
        det = Detections2D.load(root / "out" / "detections.npz")
        rig = Rig.load(root / "calibration.toml")
        C = det.xy.shape[0]
        label = f"rendered, {det.xy.shape[2]} people max, {det.xy.shape[1]} frames"
        r = score(tally, "rendered, synchronous", det, rig, (0,) * C)
        print(f"{root.name} ({label}): applied {r.offsets}, estimated {r.estimated}; "
              f"previous: applied {previous_offsets(det)}")
        for shift in SHIFTS:
            if len(shift) == C:
                score(tally, "rendered, re-timed", shift_detections(det, [-s for s in shift]),
                      rig, shift)


def simulated(tally: Tally, seeds: int) -> None:
    rig = load_rig_template("studio4")
    for seed in range(seeds):
        for hidden in (None, 45, 30):
            score(tally, "simulated, two walkers, synchronous", side_by_side(rig, seed, hidden),
                  rig, (0, 0, 0, 0))
        true = (0,) + tuple(int(v) for v in np.random.default_rng(100 + seed).integers(-3, 4, 3))
        score(tally, "simulated, two walkers, offset", side_by_side(rig, seed, offsets=list(
            true)), rig, true)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10)
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)
    tally = Tally()
    rendered(tally)
    simulated(tally, args.seeds)
    print()
    tally.print()


if __name__ == "__main__":
    main()
