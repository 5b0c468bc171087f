"""Frame-to-frame linking with its one-group fast path gives the tracks the old loop gave
(the reference below), on studio takes: one person with gaps and dropped joints, and three
people crossing with groups missing, shuffled and a ghost."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from mocap.associate.tracklets import link_frames, pose_centre
from mocap.settings import AssociateSettings

BIG = 1e6


def pose_distance(pred, X):
    gap = np.sqrt(((pred[:, None] - X[None]) ** 2).sum(-1))
    known = np.isfinite(gap)
    n = known.sum(-1)
    mean = np.where(known, gap, 0.0).sum(-1) / np.maximum(n, 1)
    if (n >= 3).all():
        return mean
    return np.where(n >= 3, mean,
                    np.linalg.norm(pose_centre(pred)[:, None] - pose_centre(X)[None], axis=-1))


def link_frames_reference(xyz, live, fps, settings):
    F, G, Jp, _ = xyz.shape
    out = np.full((F, G), -1)
    max_lost = max(1, int(round(settings.max_gap_s * fps)) + 1)
    cap = max(8, 2 * G)
    last_X, last_f, vel, n = np.full((cap, Jp, 3), np.nan), np.zeros(cap, int), np.zeros((cap, 3)), 0
    for f in range(F):
        groups = np.flatnonzero(live[f])
        if len(groups) == 0:
            continue
        Xg = xyz[f, groups]
        new = np.ones(len(groups), bool)
        active = np.flatnonzero(f - last_f[:n] <= max_lost)
        if len(active):
            lag = f - last_f[active]
            pred = last_X[active] + vel[active][:, None, :] * lag[:, None, None]
            gate = settings.track_gate_m + settings.max_speed_m_per_s * (lag - 1) / fps
            cost = pose_distance(pred, Xg) / gate[:, None]
            cost = np.where(cost <= 1.0, cost, BIG)
            rows, cols = linear_sum_assignment(cost)
            ok = cost[rows, cols] < BIG
            rows, cols = rows[ok], cols[ok]
            t = active[rows]
            step = Xg[cols] - last_X[t]
            both = np.isfinite(step).all(-1)
            cnt = both.sum(-1)
            v_new = (np.where(both[..., None], step, 0.0).sum(1)
                     / (np.maximum(cnt, 1) * lag[rows])[:, None])
            v_new = np.where((lag[rows] > 1)[:, None], v_new, 0.5 * (vel[t] + v_new))
            vel[t] = np.where((cnt >= 3)[:, None], v_new, vel[t])
            last_X[t] = np.where(np.isfinite(Xg[cols]), Xg[cols], pred[rows])
            last_f[t] = f
            out[f, groups[cols]] = t
            new[cols] = False
        for i in np.flatnonzero(new):
            if n == len(last_f):
                last_X = np.concatenate([last_X, np.full_like(last_X, np.nan)])
                last_f = np.concatenate([last_f, np.zeros_like(last_f)])
                vel = np.concatenate([vel, np.zeros_like(vel)])
            out[f, groups[i]] = n
            last_X[n], last_f[n], vel[n] = Xg[i], f, 0.0
            n += 1
    return out


def damaged(gt, rng, ghost: bool):
    """Groups from the truth (F, P, J, 3): noise, dropped joints, dropped groups, shuffled
    group order per frame, optionally a ghost group far away."""
    F, P, J, _ = gt.shape
    xyz = gt + rng.normal(0, 0.01, gt.shape)
    xyz[rng.random((F, P, J)) < 0.1] = np.nan
    live = rng.random((F, P)) > 0.05
    live[15:45, 0] = False                                # a gap longer than max_gap_s
    if ghost:
        xyz = np.concatenate([xyz, xyz[:, :1] + 3.0], 1)
        live = np.concatenate([live, rng.random((F, 1)) < 0.2], 1)
    order = np.argsort(rng.random(live.shape), 1)
    take = lambda a: np.take_along_axis(a, order.reshape(order.shape + (1,) * (a.ndim - 2)), 1)  # noqa: E731
    return take(xyz), take(live)


@pytest.mark.parametrize("scene", ["one", "crossing3"])
def test_link_frames_equals_the_old_loop(scene, clean_take, crossing3):
    gt = clean_take.gt_xyz if scene == "one" else crossing3.take.gt_xyz
    xyz, live = damaged(gt, np.random.default_rng(4), ghost=scene != "one")
    settings = AssociateSettings()
    got = link_frames(xyz, live, 30.0, settings)
    ref = link_frames_reference(xyz, live, 30.0, settings)
    np.testing.assert_array_equal(got, ref)
    assert (got[live] >= 0).all() and got.max() >= gt.shape[1]     # the gap made a new track


def one_group_take(gt, rng):
    """One group a frame, every joint known in long runs (the fast path's case), 2,600 frames
    from the truth (F, P, J, 3): person 0 walked forth and back, noise 3 mm, then jumps to the
    others (gate failures inside runs), jumps either side of the gate, a gap, a few frames with a dropped joint and frames
    with a second group."""
    F = gt.shape[0]
    walk = np.concatenate([gt[:, 0], gt[::-1, 0]])
    parts = [np.tile(walk, (9, 1, 1)), gt[:, 1], gt[:, 2], np.tile(walk, (2, 1, 1))]
    xyz = np.concatenate(parts)[:, None] + rng.normal(0, 0.003, (sum(map(len, parts)), 1) + gt.shape[2:])
    xyz[400:] += [0.5, 0.0, 0.0]                           # a jump just beyond the 0.4 m gate
    xyz[900:] += [0.3, 0.0, 0.0]                           # and one just within it
    live = np.ones(xyz.shape[:2], bool)
    live[700:712] = False                                  # a gap longer than max_gap_s
    live[1300:1303] = False                                # a short one
    xyz[1500:1510, 0, 3] = np.nan                          # a dropped joint
    second = np.full_like(xyz, np.nan)
    second[2000:2040] = xyz[2000:2040] + 2.0               # someone else for a while
    xyz = np.concatenate([xyz, second], 1)
    live = np.concatenate([live, np.isfinite(second).all((-1, -2))], 1)
    assert xyz.shape[0] > 2 * F * 10
    return xyz, live


def test_link_frames_fast_runs_equal_the_old_loop(crossing3, monkeypatch):
    from mocap.associate import tracklets
    followed = []
    follow = tracklets._Tracks.follow_run
    monkeypatch.setattr(tracklets._Tracks, "follow_run",
                        lambda self, *a: followed.append(follow(self, *a)) or followed[-1])
    xyz, live = one_group_take(crossing3.take.gt_xyz, np.random.default_rng(8))
    settings = AssociateSettings()
    got = link_frames(xyz, live, 30.0, settings)
    ref = link_frames_reference(xyz, live, 30.0, settings)
    np.testing.assert_array_equal(got, ref)
    assert sum(followed) > 0.9 * live.shape[0]            # most frames took the fast path
    assert len(np.unique(ref[live])) >= 4                  # jumps and the gap made new tracks
