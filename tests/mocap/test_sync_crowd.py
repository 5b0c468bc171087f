"""Sync never applies an offset to synchronous cameras: simulated takes of several people (each
camera listing them in its own order, as a per-camera tracker does), synchronous or with known
offsets, at 30 and 60 fps; the people two cameras share matched by the calibration, as
`mocap run` does."""
from __future__ import annotations

import numpy as np
import pytest

from mocap.simulate import Actor, ErrorModel, simulate_take
from mocap.sync import estimate_offsets, gain_over_zero, subframe_peak
from mocap.sync.signals import paired_rows

MOTIONS = ("walk", "jog_circle", "squat", "jumping_jacks", "turn", "bend_and_reach", "stand")


def crowd_take(rig, seed, fps, offsets=None):
    """Three people doing different things at different places; per-camera slot orders."""
    rng = np.random.default_rng(seed)
    actors = [Actor(str(m), seed=10 * seed + i, xy_offset_m=tuple(rng.uniform(-1.5, 1.5, 2)))
              for i, m in enumerate(rng.choice(MOTIONS, 3))]
    det = simulate_take(rig, actors, 120, fps, "body25", ErrorModel(), seed=seed,
                        camera_offsets=offsets).detections
    perm = [rng.permutation(det.xy.shape[2]) for _ in range(det.xy.shape[0])]
    return det.replace(xy=np.stack([det.xy[c][:, p] for c, p in enumerate(perm)]),
                       conf=np.stack([det.conf[c][:, p] for c, p in enumerate(perm)]))


@pytest.mark.parametrize("fps", [30.0, 60.0])
def test_synchronous_crowds_get_no_offset(studio4, fps):
    for seed in range(6):
        r = estimate_offsets(crowd_take(studio4, seed, fps), rig=studio4)
        assert r.offsets == (0, 0, 0, 0), (seed, r.table())


def test_crowds_with_offsets_get_the_true_ones(studio4):
    """An offset applied is the true one at 30 fps. At 60 fps the motion pins an offset only
    to about a frame (17 ms): an offset applied there is within one frame of the truth. Those
    not trusted (weak or ambiguous motion, or no clear gain over no offset in these 4 s) are
    reported and left at 0; at 30 fps half the takes are recovered whole."""
    whole = 0
    for seed, fps in [(s, f) for s in range(4) for f in (30.0, 60.0)]:
        true = tuple(int(v) for v in np.random.default_rng(100 + seed).integers(-3, 4, 4))
        true = (0,) + true[1:]
        r = estimate_offsets(crowd_take(studio4, seed, fps, list(true)), rig=studio4)
        tol = 0 if fps == 30.0 else 1
        for got, want, trusted in zip(r.offsets, true, r.trusted):
            assert abs(got - want) <= tol if trusted else got == 0, (seed, fps, true, r.table())
        whole += fps == 30.0 and r.offsets == true
    assert whole >= 2


def test_subframe_peak():
    curve = np.array([0.1, 0.5, 0.9, 0.8, 0.2])         # leans right of sample 2
    assert 0 < subframe_peak(curve, 2) < 0.5
    assert subframe_peak(np.array([0.2, 0.9, 0.2]), 1) == 0.0
    assert subframe_peak(curve, 0) == 0.0 and subframe_peak(curve, 4) == 0.0
    assert subframe_peak(np.array([0.5, 0.9, np.nan]), 1) == 0.0


def side_by_side(rig, seed, fps=30.0, frames=60, hidden_from=None, offsets=None):
    """Two people walking side by side 1 m apart (the rendered two-actor take's layout);
    from ``hidden_from`` on, the first is hidden behind the other in the first camera."""
    actors = [Actor("walk", seed=seed, xy_offset_m=(0.0, -0.5)),
              Actor("walk", seed=seed + 1, xy_offset_m=(0.0, 0.5))]
    det = simulate_take(rig, actors, frames, fps, "body25", ErrorModel(), seed=seed,
                        camera_offsets=offsets).detections
    xy, conf = det.xy.copy(), det.conf.copy()
    if hidden_from is not None:
        xy[0, hidden_from:, 0], conf[0, hidden_from:, 0] = np.nan, 0.0
    perm = [np.random.default_rng(seed + c).permutation(2) for c in range(xy.shape[0])]
    return det.replace(xy=np.stack([xy[c][:, p] for c, p in enumerate(perm)]),
                       conf=np.stack([conf[c][:, p] for c, p in enumerate(perm)]))


def test_two_walkers_one_hidden_in_one_camera_get_no_offset(studio4):
    """Regression (the rendered two-actor take: 0, -1, -1, -1 applied to synchronous
    cameras). Averaging the motion over whoever a camera sees mixes two people whose steps
    differ, and changes the mix where one is hidden: 9 of these 30 takes got a wrong offset
    applied. Per person, matched across views, none does."""
    for seed in range(10):
        for hidden in (None, 45, 30):
            r = estimate_offsets(side_by_side(studio4, seed, hidden_from=hidden), rig=studio4)
            assert r.offsets == (0, 0, 0, 0), (seed, hidden, r.table())


def test_two_walkers_truly_offset_are_found(studio4):
    """The same scene with real offsets (4 s): every estimate is the true offset; an offset
    applied is the true one; most are applied (1-frame offsets are the hardest to justify)."""
    applied = 0
    for seed in range(6):
        true = (0,) + tuple(int(v) for v in np.random.default_rng(100 + seed).integers(-3, 4, 3))
        r = estimate_offsets(side_by_side(studio4, seed, frames=120, offsets=list(true)),
                             rig=studio4)
        assert r.estimated == true, (seed, true, r.table())
        assert all(o in (0, t) for o, t in zip(r.offsets, true)), (seed, true, r.table())
        applied += sum(o == t != 0 for o, t in zip(r.offsets, true))
    assert applied >= 0.6 * sum(sum(v != 0 for v in np.random.default_rng(100 + s).integers(
        -3, 4, 3)) for s in range(6))


def test_gain_over_zero_tells_a_real_lag_from_none():
    """Camera 1 sees camera 0's signal 2 frames later (plus noise): its offset beats none by
    a wide margin; a pair of independent noise signals gives no significant gain."""
    rng = np.random.default_rng(0)
    F, J = 120, 6
    s = rng.standard_normal((J, F + 2))
    a, b = s[:, 2:], s[:, :-2] + 0.3 * rng.standard_normal((J, F))     # b[t + 2] = a[t]
    links = np.ones((F, 1, 1), bool)
    rows = {(0, 1): paired_rows(a[None], b[None], links)}
    assert gain_over_zero(rows, np.array([0, -2]), {1}, 10) > 10
    noise = {(0, 1): paired_rows(a[None], rng.standard_normal((1, J, F)), links)}
    assert abs(gain_over_zero(noise, np.array([0, -2]), {1}, 10)) < 3
