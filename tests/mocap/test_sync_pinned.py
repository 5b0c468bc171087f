"""Sync's results pinned: the fast signal and correlation code (sums over cache-sized frame
blocks, one pass per lag) gives what the one-pass code gave before it, on simulated takes with
known offsets (one person and crowds, with and without the calibration)."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from mocap.simulate import Actor, ErrorModel, simulate_take
from mocap.sync import estimate_offsets, lag_correlations
from mocap.sync.signals import joint_speeds

sys.path.insert(0, str(Path(__file__).parent))
from test_sync_crowd import crowd_take  # noqa: E402

NAN = float("nan")

# (offsets, motion, with the rig) -> correlation, margin, gain_t of the code before it was
# made fast (recorded from it; offsets and estimates equal the true offsets).
ONE_PERSON = [
    ([0, 3, 0, -2], "walk", True, [0.321444, 0.298043, 0.335022, 0.316097],
     [0.177381, 0.118978, 0.178813, 0.127383], [NAN, 5.0559, NAN, 5.0957]),
    ([0, 5, -4, 2], "jumping_jacks", False, [0.543118, 0.57405, 0.56123, 0.567318],
     [0.160359, 0.164943, 0.164057, 0.165997], [NAN, 14.6517, 11.1325, 9.4449]),
    ([0, 0, 2, 0], "jog_circle", True, [0.473871, 0.485191, 0.473371, 0.483093],
     [0.255904, 0.284419, 0.211922, 0.26703], [NAN, NAN, 9.418, NAN]),
]
CROWDS = [
    (1, [0, 2, -1, 0], True, [0.44707, 0.470551, 0.438416, 0.446227],
     [0.102072, 0.110047, 0.107562, 0.093749], [NAN, 8.9622, 5.5139, NAN]),
    (1, [0, 2, -1, 0], False, [0.467509, 0.475564, 0.449844, 0.458922],
     [0.110335, 0.103175, 0.110897, 0.101761], [NAN, 10.4681, 4.4332, NAN]),
    (3, None, True, [0.276063, 0.239737, 0.275763, 0.304142],
     [0.153832, 0.122453, 0.154169, 0.18665], [NAN] * 4),
    (3, None, False, [0.321163, 0.284021, 0.29063, 0.303969],
     [0.196285, 0.162275, 0.168455, 0.202242], [NAN] * 4),
]


def _check(r, offsets, corr, margin, gain):
    offsets = tuple(offsets or (0, 0, 0, 0))
    assert r.offsets == offsets and r.estimated == offsets and all(r.trusted)
    np.testing.assert_allclose(r.correlation, corr, atol=2e-6)
    np.testing.assert_allclose(r.margin, margin, atol=2e-6)
    np.testing.assert_allclose(r.gain_t, gain, atol=2e-4)


@pytest.mark.parametrize("case", ONE_PERSON, ids=lambda c: c[1])
def test_one_person_results_unchanged(studio4, case):
    offsets, motion, with_rig, corr, margin, gain = case
    det = simulate_take(studio4, [Actor(motion, seed=2)], 150, 30.0, "body25", ErrorModel(),
                        seed=2, camera_offsets=offsets).detections
    _check(estimate_offsets(det, rig=studio4 if with_rig else None), offsets, corr, margin, gain)


@pytest.mark.parametrize("case", CROWDS, ids=lambda c: f"seed{c[0]}-rig{c[2]}")
def test_crowd_results_unchanged(studio4, case):
    seed, offsets, with_rig, corr, margin, gain = case
    det = crowd_take(studio4, seed, 30.0, offsets)
    _check(estimate_offsets(det, rig=studio4 if with_rig else None), offsets, corr, margin, gain)


def _one_pass_lag_correlations(a, b, max_lag, min_overlap=10):
    """The code before: every lag's overlap centred and summed in one pass."""
    F = a.shape[1]
    out = np.full(2 * max_lag + 1, np.nan)
    for k, lag in enumerate(range(-max_lag, max_lag + 1)):
        x = a[:, max(0, -lag):F - max(0, lag)]
        y = b[:, max(0, lag):F - max(0, -lag)]
        ok = np.isfinite(x) & np.isfinite(y)
        n = ok.sum(1, keepdims=True)
        if n.sum() < min_overlap:
            continue
        mx = np.where(ok, x, 0.0).sum(1, keepdims=True) / np.maximum(n, 1)
        my = np.where(ok, y, 0.0).sum(1, keepdims=True) / np.maximum(n, 1)
        x0, y0 = np.where(ok, x - mx, 0.0), np.where(ok, y - my, 0.0)
        denom = np.sqrt((x0 * x0).sum() * (y0 * y0).sum())
        if denom > 0:
            out[k] = (x0 * y0).sum() / denom
    return out


@pytest.mark.parametrize("frames", [15, 40, 5000])
def test_lag_correlations_equal_the_one_pass_code(studio4, frames):
    """Gappy signals (runs of missing frames, rows missing altogether), every lag, a take
    shorter and longer than the frame blocks; a signal with an offset of its own."""
    rng = np.random.default_rng(frames)
    t = np.arange(frames)
    a = np.sin(0.3 * t + rng.uniform(0, 6, (25, 1))) + 0.3 * rng.normal(size=(25, frames))
    b = np.roll(a, 3, axis=1) + 0.5 * rng.normal(size=a.shape) + 2.0
    a[rng.random(a.shape) < 0.2] = np.nan
    b[:, rng.random(frames) < 0.1] = np.nan
    a[3] = np.nan
    for max_lag in (1, 5, 10):
        if frames - 2 * max_lag < 1:
            continue
        np.testing.assert_allclose(lag_correlations(a, b, max_lag),
                                   _one_pass_lag_correlations(a, b, max_lag), atol=1e-9)
    empty = np.full((2, frames), np.nan)
    assert np.isnan(lag_correlations(empty, empty, 3)).all()


def test_joint_speeds_layout_free(studio4):
    """The speed signals are those of each camera computed alone (no cross-camera mixing)."""
    det = simulate_take(studio4, [Actor("walk", seed=1)], 90, 30.0, "body25", ErrorModel(),
                        seed=1).detections
    s = joint_speeds(det.xy, det.conf, det.fps)
    assert s.shape == (4, det.xy.shape[2], det.xy.shape[3], 90)
    for c in range(4):
        one = joint_speeds(det.xy[c:c + 1], det.conf[c:c + 1], det.fps)[0]
        np.testing.assert_array_equal(np.isnan(one), np.isnan(s[c]))
        np.testing.assert_allclose(one, s[c], atol=1e-12, equal_nan=True)
