"""People over time, first half: the groups found per frame by :mod:`mocap.associate.solve`
linked into tracklets, and tracklets joined into identities.

Conventions: world frame (Z up, metres); time in frames of the take (``fps`` given).

Two steps, each a global assignment (Hungarian, ``scipy.optimize.linear_sum_assignment``):

1. **Frame to frame** (:func:`link_frames`). Every live track predicts where it is now
   (constant velocity of its joints' common displacement); the cost of a (track, group) pair
   is the mean joint distance between the prediction and the group's 3D pose divided by the
   track's gate (``track_gate_m``, widened by ``max_speed_m_per_s`` for every frame the track
   has been lost). Pairs beyond the gate are never made; groups left over start new tracks; a
   track lost for more than ``max_gap_s`` ends. A run of frames with one group, every joint
   known, while one track is live (the common one-person take) is followed in one vectorised
   step (:meth:`_Tracks.follow_run`): the same tracks as the per-frame loop.
2. **Re-identification** (:func:`stitch_tracklets`). Tracks that ended are joined to tracks
   that started later (an occlusion longer than ``max_gap_s``, a person leaving the volume and
   coming back) when the gap is at most ``reid_max_gap_s``, the person could have walked the
   distance (``max_speed_m_per_s``), and the body proportions agree: the median bone lengths
   of the two tracks differ by at most ``reid_bone_tolerance`` (relative). One assignment over
   all (ending, starting) pairs, so a track is continued by at most one other and the choice
   is global, not first come first served.

The selection of the identities kept is in :mod:`mocap.associate.identities`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..geometry.bones import robust_bone_lengths
from ..settings import AssociateSettings
from .assignment import assignment

__all__ = ["link_frames", "bone_signature", "tracklet_summaries", "stitch_tracklets",
           "pose_centre"]

_BIG = 1e6


# ----------------------------------------------------------------------------- frame to frame

def _pose_distance(pred: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Mean distance over the joints known in both, metres.

    Args:
        pred: (T, Jp, 3); X: (G, Jp, 3) (NaN = unknown).
    Returns:
        (T, G); where fewer than three joints are shared, the distance between the means of
        the known joints (+inf if either has none).
    """
    gap = np.sqrt(((pred[:, None] - X[None]) ** 2).sum(-1))               # (T, G, Jp)
    known = np.isfinite(gap)
    n = known.sum(-1)
    mean = np.where(known, gap, 0.0).sum(-1) / np.maximum(n, 1)
    if (n >= 3).all():
        return mean
    return np.where(n >= 3, mean,
                    np.linalg.norm(pose_centre(pred)[:, None] - pose_centre(X)[None], axis=-1))


def pose_centre(X: np.ndarray) -> np.ndarray:
    """(..., 3) mean of the known joints of poses (..., Jp, 3); +inf where none is known."""
    known = np.isfinite(X).all(-1, keepdims=True)
    n = known.sum(-2)
    c = np.where(known, X, 0.0).sum(-2) / np.maximum(n, 1)
    return np.where(n > 0, c, np.inf)


def link_frames(xyz: np.ndarray, live: np.ndarray, fps: float,
                settings: AssociateSettings) -> np.ndarray:
    """Link the groups of consecutive frames into tracklets.

    Args:
        xyz: (F, G, Jp, 3) the groups' poses, world metres (NaN = unknown).
        live: (F, G) bool: the group exists.
        fps: frames per second.
    Returns:
        (F, G) int tracklet index of every group, -1 for groups that do not exist. Tracklet
        indices count from 0 in order of first appearance.
    """
    F, G, Jp, _ = xyz.shape
    out = np.full((F, G), -1)
    st = _Tracks(Jp, max(8, 2 * G), max(1, int(round(settings.max_gap_s * fps)) + 1),
                 settings.track_gate_m, settings.max_speed_m_per_s, fps)
    counts = live.sum(1)
    first_live = live.argmax(1)
    run_end = _simple_run_ends(xyz, live, counts, first_live)
    frames = np.flatnonzero(counts)
    i = 0
    while i < len(frames):
        f = frames[i]
        if counts[f] == 1:
            g = first_live[f]
            out[f, g] = t = st.link_one(f, xyz[f, g])
            e = min(run_end[f], f + _RUN_MAX)
            if e > f + _RUN_MIN and Jp >= 3 and st.sole_follower(f, t):
                run = np.arange(f + 1, e + 1)
                m = st.follow_run(t, f, xyz[run, first_live[run]])
                out[f + 1 + np.arange(m), first_live[f + 1:f + 1 + m]] = t
                i += m
        else:
            groups = np.flatnonzero(live[f])
            out[f, groups] = st.link_many(f, xyz[f, groups])
        i += 1
    return out


_RUN_MIN = 8          # frames: shorter runs of simple frames go through the per-frame loop
_RUN_MAX = 2048       # frames followed at once (a gate failure costs at most one block)
_EMA_TERMS = 64       # the velocity average's terms kept: the rest weigh under 2**-64


def _simple_run_ends(xyz: np.ndarray, live: np.ndarray, counts: np.ndarray,
                     first_live: np.ndarray) -> np.ndarray:
    """(F,) int: for a simple frame f (one group, every joint known), the last frame e >= f
    such that frames f..e are all simple; -1 for frames that are not simple."""
    F = len(counts)
    simple = (counts == 1) & np.isfinite(xyz[np.arange(F), first_live]).all((-1, -2))
    idx = np.arange(F)
    stop = np.where(simple, F, idx)                      # a non-simple frame ends runs before it
    nxt = np.minimum.accumulate(stop[::-1])[::-1]        # first non-simple frame at or after f
    return np.where(simple, nxt - 1, -1)


class _Tracks:
    """The live tracks of :func:`link_frames`: last pose (NaN joints filled by motion), last
    frame, velocity (metres per frame) of each, grown as tracks start."""

    def __init__(self, Jp: int, cap: int, max_lost: int, gate_m: float, speed_m_per_s: float,
                 fps: float):
        self.last_X = np.full((cap, Jp, 3), np.nan)
        self.last_f = np.zeros(cap, int)
        self.vel = np.zeros((cap, 3))
        self.n, self.max_lost = 0, max_lost
        self.gate_m, self.speed, self.fps = gate_m, speed_m_per_s, fps

    def _gate(self, lag):
        return self.gate_m + self.speed * (lag - 1) / self.fps

    def _active(self, f: int) -> np.ndarray:
        return np.flatnonzero(f - self.last_f[:self.n] <= self.max_lost)

    def link_many(self, f: int, Xg: np.ndarray) -> np.ndarray:
        """Tracks of the groups Xg (G, Jp, 3) of frame f: one assignment, leftovers start
        tracks."""
        track = np.full(len(Xg), -1)
        active = self._active(f)
        if len(active):
            lag = f - self.last_f[active]
            pred = self.last_X[active] + self.vel[active][:, None, :] * lag[:, None, None]
            gate = self._gate(lag)
            cost = _pose_distance(pred, Xg) / gate[:, None]
            cost = np.where(cost <= 1.0, cost, _BIG)
            rows, cols = assignment(cost)
            ok = cost[rows, cols] < _BIG
            rows, cols = rows[ok], cols[ok]
            self._update(f, active[rows], Xg[cols], pred[rows], lag[rows])
            track[cols] = active[rows]
        for i in np.flatnonzero(track < 0):
            track[i] = self._start(f, Xg[i])
        return track

    def sole_follower(self, f: int, t: int) -> bool:
        """Track t, just continued or started at frame f with a fully known pose, is the only
        live track (the others, older, stay out of reach from now on)."""
        active = self._active(f)
        return len(active) == 1 and int(active[0]) == t and bool(np.isfinite(self.last_X[t]).all())

    def follow_run(self, t: int, f: int, X: np.ndarray) -> int:
        """:meth:`link_one` over the frames f+1, f+2, ... of X (n, Jp, 3), every joint known,
        one group a frame, track t the only live one, vectorised: the frames are taken while
        each lies within the gate of its prediction. Returns m, the frames taken (the state
        is then that of frame f + m); the (m+1)-th, if any, goes through :meth:`link_one`.

        The velocity's running average 0.5 (v + v_new) is summed as its series (terms under
        2**-64 of the newest dropped), equal to the per-frame loop to rounding (1e-16 m).
        """
        n, Jp = X.shape[:2]
        prev = np.concatenate([self.last_X[t][None], X[:-1]])                  # (n, Jp, 3)
        v_new = (X - prev).sum(1) / Jp                                           # (n, 3)
        half = 0.5 ** (1.0 + np.arange(n))
        vel = half[:, None] * self.vel[t]                                        # (n, 3)
        for d in range(min(n, _EMA_TERMS)):
            vel[d:] += half[d] * v_new[:n - d]
        vel_before = np.concatenate([self.vel[t][None], vel[:-1]])
        gap = np.sqrt((((prev + vel_before[:, None]) - X) ** 2).sum(-1))        # (n, Jp)
        ok = gap.sum(-1) / Jp / self._gate(1) <= 1.0
        m = n if ok.all() else int(np.argmin(ok))
        if m:
            self.last_X[t], self.last_f[t], self.vel[t] = X[m - 1], f + m, vel[m - 1]
        return m

    def link_one(self, f: int, X: np.ndarray) -> int:
        """:meth:`link_many` for a frame with one group X (Jp, 3) (the common case: one
        track, scalar indices, no assignment; the same arithmetic)."""
        active = self._active(f)
        if len(active) != 1:
            return int(self.link_many(f, X[None])[0])
        t = int(active[0])
        lag = f - int(self.last_f[t])
        pred = self.last_X[t] + self.vel[t] * lag                           # (Jp, 3)
        gap = np.sqrt(((pred - X) ** 2).sum(-1))                            # (Jp,)
        known = np.isfinite(gap)
        n = int(known.sum())
        if n >= 3:
            dist = np.where(known, gap, 0.0).sum() / max(n, 1)
        else:
            dist = _pose_distance(pred[None], X[None])[0, 0]
        if not dist / self._gate(lag) <= 1.0:
            return self._start(f, X)
        self._update_one(f, t, X, pred, lag)
        return t

    def _update_one(self, f: int, t: int, X: np.ndarray, pred: np.ndarray, lag: int) -> None:
        """:meth:`_update` of one track t with pose X (Jp, 3)."""
        step = X - self.last_X[t]                                           # (Jp, 3)
        both = np.isfinite(step).all(-1)
        cnt = int(both.sum())
        v_new = np.where(both[:, None], step, 0.0).sum(0) / (max(cnt, 1) * lag)
        if not lag > 1:
            v_new = 0.5 * (self.vel[t] + v_new)
        if cnt >= 3:
            self.vel[t] = v_new
        self.last_X[t] = np.where(np.isfinite(X), X, pred)
        self.last_f[t] = f

    def _update(self, f: int, t: np.ndarray, X: np.ndarray, pred: np.ndarray,
                lag: np.ndarray) -> None:
        """Tracks t (M,) continue with poses X (M, Jp, 3), predicted at pred after lag."""
        step = X - self.last_X[t]                                           # (M, Jp, 3)
        both = np.isfinite(step).all(-1)
        cnt = both.sum(-1)
        v_new = np.where(both[..., None], step, 0.0).sum(1) / (np.maximum(cnt, 1) * lag)[:, None]
        v_new = np.where((lag > 1)[:, None], v_new, 0.5 * (self.vel[t] + v_new))
        self.vel[t] = np.where((cnt >= 3)[:, None], v_new, self.vel[t])
        self.last_X[t] = np.where(np.isfinite(X), X, pred)
        self.last_f[t] = f

    def _start(self, f: int, X: np.ndarray) -> int:
        if self.n == len(self.last_f):
            self.last_X = np.concatenate([self.last_X, np.full_like(self.last_X, np.nan)])
            self.last_f = np.concatenate([self.last_f, np.zeros_like(self.last_f)])
            self.vel = np.concatenate([self.vel, np.zeros_like(self.vel)])
        n = self.n
        self.last_X[n], self.last_f[n], self.vel[n] = X, f, 0.0
        self.n += 1
        return n


# ----------------------------------------------------------------------------- re-identification

def bone_signature(xyz: np.ndarray, bones: np.ndarray) -> np.ndarray:
    """Median length of each bone over a track, metres
    (:func:`mocap.geometry.bones.robust_bone_lengths`, over three poses at least).

    Args:
        xyz: (N, Jp, 3) poses (NaN = unknown). bones: (B, 2) joint index pairs into Jp.
    Returns:
        (B,) metres, NaN for bones seen in fewer than three poses.
    """
    if len(bones) == 0 or len(xyz) == 0:
        return np.full(len(bones), np.nan)
    return robust_bone_lengths(xyz, bones, min_frames=3)


@dataclass(frozen=True)
class _Tracklet:
    first: int
    last: int
    start_xyz: np.ndarray     # (3,) mean of the first pose's joints
    end_xyz: np.ndarray       # (3,) mean of the last pose's joints
    signature: np.ndarray     # (B,)


def tracklet_summaries(xyz: np.ndarray, tracklet: np.ndarray,
                       bones: np.ndarray) -> list[_Tracklet]:
    """First/last frame, start/end position and bone signature of every tracklet."""
    f, g = np.nonzero(tracklet >= 0)
    if len(f) == 0:
        return []
    t = tracklet[f, g]
    order = np.lexsort((f, t))                                              # by tracklet, frame
    f, g, t = f[order], g[order], t[order]
    cuts = np.flatnonzero(np.diff(t)) + 1
    out = []
    for fs, gs in zip(np.split(f, cuts), np.split(g, cuts)):
        poses = xyz[fs, gs]                                                 # (n, Jp, 3)
        centres = pose_centre(poses[[0, -1]])                               # (2, 3)
        out.append(_Tracklet(int(fs[0]), int(fs[-1]), centres[0], centres[1],
                             bone_signature(poses, bones)))
    return out


def stitch_tracklets(tracks: list, fps: float, settings: AssociateSettings) -> np.ndarray:
    """Join tracklets that are one person seen twice (after an occlusion, leaving, coming back).

    Args:
        tracks: per tracklet, its first and last frame, start and end position (3,) metres and
            bone signature (see :func:`bone_signature`).
    Returns:
        (T,) int: the identity of every tracklet (chains of joined tracklets share one),
        numbered from 0 in order of first appearance.
    """
    T = len(tracks)
    cost = np.full((T, T), _BIG)
    if T == 0:
        return np.zeros(0, int)
    first = np.array([tr.first for tr in tracks])
    last = np.array([tr.last for tr in tracks])
    gap_s = (first[None, :] - last[:, None]) / fps                          # (ends, starts)
    reach = settings.track_gate_m + settings.max_speed_m_per_s * gap_s
    start = np.stack([tr.start_xyz for tr in tracks])
    end = np.stack([tr.end_xyz for tr in tracks])
    dist = np.linalg.norm(start[None, :] - end[:, None], axis=-1)
    i, j = np.nonzero((gap_s > 0) & (gap_s <= settings.reid_max_gap_s) & (dist <= reach))
    if len(i):
        sig = np.stack([tr.signature for tr in tracks])                     # (T, B)
        with np.errstate(invalid="ignore", divide="ignore"):
            rel = np.abs(sig[i] - sig[j]) / (0.5 * (sig[i] + sig[j]))     # (pairs, B)
        n = np.isfinite(rel).sum(-1)
        srt = np.sort(rel, axis=-1)                                         # NaN last
        rows = np.arange(len(i))
        med = 0.5 * (srt[rows, np.maximum(n - 1, 0) // 2] + srt[rows, np.maximum(n, 1) // 2])
        known = n >= 3
        # Without a body to compare, only a short gap may be bridged (by position alone).
        ok = np.where(known, med <= settings.reid_bone_tolerance,
                      gap_s[i, j] <= settings.max_gap_s)
        med = np.where(known, med, 0.5 * settings.reid_bone_tolerance)
        i, j, med = i[ok], j[ok], med[ok]
        cost[i, j] = dist[i, j] / reach[i, j] + med / settings.reid_bone_tolerance
    nxt = np.full(T, -1)
    if (cost < _BIG).any():
        rows, cols = assignment(cost)
        for r, c in zip(rows, cols):
            if cost[r, c] < _BIG:
                nxt[r] = c
    has_prev = np.zeros(T, bool)
    has_prev[nxt[nxt >= 0]] = True
    identity = np.full(T, -1)
    heads = sorted((t for t in range(T) if not has_prev[t]), key=lambda t: tracks[t].first)
    for k, t in enumerate(heads):
        while t >= 0:
            identity[t] = k
            t = nxt[t]
    return identity
