"""People over time: the groups found per frame by :mod:`mocap.associate` linked into stable
identities.

Conventions: world frame (Z up, metres); time in frames of the take (``fps`` given).

Three steps, each a global assignment (Hungarian, ``scipy.optimize.linear_sum_assignment``):

1. **Frame to frame.** Every live track predicts where it is now (constant velocity of its
   joints' common displacement); the cost of a (track, group) pair is the mean joint distance
   between the prediction and the group's 3D pose divided by the track's gate
   (``track_gate_m``, widened by ``max_speed_m_per_s`` for every frame the track has been
   lost). Pairs beyond the gate are never made; groups left over start new tracks; a track
   lost for more than ``max_gap_s`` ends.
2. **Re-identification.** Tracks that ended are joined to tracks that started later (an
   occlusion longer than ``max_gap_s``, a person leaving the volume and coming back) when the
   gap is at most ``reid_max_gap_s``, the person could have walked the distance
   (``max_speed_m_per_s``), and the body proportions agree: the median bone lengths of the two
   tracks differ by at most ``reid_bone_tolerance`` (relative). One assignment over all
   (ending, starting) pairs, so a track is continued by at most one other and the choice is
   global, not first come first served.
3. **Selection.** Identities seen for less than ``min_track_s`` are dropped as spurious; with
   ``max_people`` only the best observed are kept; in ``main_subject`` mode one identity is
   kept: the one with the largest evidence ``sum over frames of views x exp(-(d / r)^2 / 2)``,
   d its distance to the point the cameras are aimed at and r ``volume_radius_m`` — the actor
   is seen by more cameras, for longer, closer to the middle than a bystander, even one who
   looks larger in the camera he stands next to.

:func:`identify_people` runs association and tracking and returns the detections with the P
axis holding the identities, as the triangulation expects them.
"""
from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from calibration import Rig

from .associate import Association, associate_take, check_settings
from .errors import AssociationError
from .keypoints import get_format
from .settings import AssociateSettings
from .types import Detections2D, load_npz, save_npz

log = logging.getLogger(__name__)

__all__ = ["Identities", "link_frames", "stitch_tracklets", "bone_signature", "rig_aim_point",
           "association_bones", "track_people", "slot_identities", "detections_by_identity", "identify_people",
           "detections_for_points"]

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
    return np.where(n >= 3, mean, np.linalg.norm(_centre(pred)[:, None] - _centre(X)[None],
                                                 axis=-1))


def _centre(X: np.ndarray) -> np.ndarray:
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
    max_lost = max(1, int(round(settings.max_gap_s * fps)) + 1)
    cap = max(8, 2 * G)
    last_X = np.full((cap, Jp, 3), np.nan)  # per tracklet: last pose, NaN filled by motion
    last_f = np.zeros(cap, int)
    vel = np.zeros((cap, 3))                # metres per frame
    n = 0
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
            cost = _pose_distance(pred, Xg) / gate[:, None]
            cost = np.where(cost <= 1.0, cost, _BIG)
            rows, cols = linear_sum_assignment(cost)
            ok = cost[rows, cols] < _BIG
            rows, cols = rows[ok], cols[ok]
            t = active[rows]
            step = Xg[cols] - last_X[t]                                     # (M, Jp, 3)
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


# ----------------------------------------------------------------------------- re-identification

def bone_signature(xyz: np.ndarray, bones: np.ndarray) -> np.ndarray:
    """Median length of each bone over a track, metres.

    Args:
        xyz: (N, Jp, 3) poses (NaN = unknown). bones: (B, 2) joint index pairs into Jp.
    Returns:
        (B,) metres, NaN for bones seen in fewer than three poses.
    """
    if len(bones) == 0 or len(xyz) == 0:
        return np.full(len(bones), np.nan)
    lengths = np.linalg.norm(xyz[:, bones[:, 0]] - xyz[:, bones[:, 1]], axis=-1)
    n = np.isfinite(lengths).sum(0)
    # NaN sorts last: the median of the known lengths is at (n - 1) / 2 of each column.
    srt = np.sort(lengths, axis=0)
    lo = srt[np.maximum(n - 1, 0) // 2, np.arange(len(bones))]
    hi = srt[np.maximum(n, 1) // 2, np.arange(len(bones))]
    return np.where(n >= 3, 0.5 * (lo + hi), np.nan)


@dataclass(frozen=True)
class _Tracklet:
    first: int
    last: int
    start_xyz: np.ndarray     # (3,) mean of the first pose's joints
    end_xyz: np.ndarray       # (3,) mean of the last pose's joints
    signature: np.ndarray     # (B,)


def _summaries(xyz: np.ndarray, tracklet: np.ndarray, bones: np.ndarray) -> list[_Tracklet]:
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
        centres = _centre(poses[[0, -1]])                                   # (2, 3)
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
        rows, cols = linear_sum_assignment(cost)
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


# ----------------------------------------------------------------------------- selection

def rig_aim_point(rig: Rig) -> np.ndarray:
    """(3,) the point closest (least squares) to every camera's optical axis, world metres:
    where the rig is aimed, the middle of the capture volume."""
    eye = np.eye(3)
    A = np.zeros((3, 3))
    b = np.zeros(3)
    for cam in rig:
        axis = cam.R_cam_from_world[2]
        P = eye - np.outer(axis, axis)
        A += P
        b += P @ cam.center
    if abs(np.linalg.det(A)) < 1e-9:
        return np.mean([cam.center for cam in rig], axis=0)
    return np.linalg.solve(A, b)


def _evidence(assoc: Association, identity: np.ndarray, T: int, aim: "np.ndarray | None",
              radius_m: float) -> np.ndarray:
    """(T,) sum over frames of views x centrality of every identity."""
    w = assoc.num_views.astype(float)
    if aim is not None:
        d = np.linalg.norm(_centre(assoc.xyz) - aim, axis=-1)               # (F, G)
        w = w * np.nan_to_num(np.exp(-0.5 * (d / radius_m) ** 2))
    score = np.zeros(T)
    ok = identity >= 0
    np.add.at(score, identity[ok], w[ok])
    return score


def _renumber(identity: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keep the identities flagged in keep (T,), renumbered by first appearance.

    Returns the new identities (F, G) and, per new identity, its old index.
    """
    flat = identity.ravel()                                                 # frame-major
    on = flat >= 0
    kept = on.copy()
    kept[on] = keep[flat[on]]
    old, first_at = np.unique(flat[kept], return_index=True)
    old = old[np.argsort(first_at)]                                         # by appearance
    new_of = np.full(len(keep) + 1, -1)                                     # [-1] -> -1
    new_of[old] = np.arange(len(old))
    return new_of[identity], old


def _frames_seen(identity: np.ndarray, T: int) -> np.ndarray:
    """(T,) number of frames in which each identity holds a group."""
    seen = np.zeros((identity.shape[0], T + 1), bool)
    seen[np.arange(identity.shape[0])[:, None], identity] = True             # -1 -> column T
    return seen[:, :T].sum(0)


def track_people(assoc: Association, fps: float, settings: AssociateSettings,
                 bones: np.ndarray, rig: "Rig | None" = None,
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Give every association group a stable identity.

    Args:
        assoc: the per-frame groups. fps: frames per second.
        bones: (B, 2) bones between association joints (indices into ``assoc.joints``).
        rig: needed in ``main_subject`` mode (where the cameras are aimed).
    Returns:
        identity (F, G) int, -1 for groups not kept, numbered from 0 by first appearance;
        score (T,) evidence of each identity (views summed over frames, weighted by
        centrality in ``main_subject`` mode).
    """
    check_settings(settings)
    live = assoc.num_views >= 2
    tracklet = link_frames(assoc.xyz, live, fps, settings)
    summaries = _summaries(assoc.xyz, tracklet, bones)
    chain = stitch_tracklets(summaries, fps, settings)
    identity = (np.where(tracklet >= 0, chain[np.maximum(tracklet, 0)], -1) if len(chain)
                else np.full(tracklet.shape, -1))
    T = int(identity.max(initial=-1)) + 1
    keep = _frames_seen(identity, T) >= max(1.0, settings.min_track_s * fps)
    main = settings.mode == "main_subject"
    if main and rig is None:
        raise AssociationError("[associate] mode = 'main_subject' needs the rig (where the "
                               "cameras are aimed); none was given")
    score = _evidence(assoc, identity, T, rig_aim_point(rig) if main else None,
                      settings.volume_radius_m)
    score = np.where(keep, score, -np.inf)
    limit = 1 if main else settings.max_people
    if limit and keep.sum() > limit:
        best = np.argsort(-score, kind="stable")[:limit]
        keep = np.zeros(T, bool)
        keep[best] = True
    log.info("tracking: %d tracklets joined into %d identities, %d kept (%s)",
             len(summaries), T, int(keep.sum()), settings.mode)
    identity, old = _renumber(identity, keep)
    return identity, score[old]


# ----------------------------------------------------------------------------- output

def slot_identities(assoc: Association, identity: np.ndarray, num_slots: int) -> np.ndarray:
    """The identity of every detection slot.

    Args:
        assoc: slots (F, G, C). identity: (F, G). num_slots: K, the detections' P axis.
    Returns:
        (C, F, K) int, -1 for detections that belong to nobody kept.
    """
    F, G, C = assoc.slots.shape
    out = np.full((C, F, num_slots), -1)
    f, g, c = np.nonzero((assoc.slots >= 0) & (identity >= 0)[..., None])
    out[c, f, assoc.slots[f, g, c]] = identity[f, g]
    return out


def detections_by_identity(det: Detections2D, slot_identity: np.ndarray,
                           num_people: int) -> Detections2D:
    """Reorder detections so that the P axis is the identity.

    Args:
        det: (C, F, K, J) detections in the detector's order.
        slot_identity: (C, F, K) identity of every slot (-1 = nobody).
    Returns:
        Detections2D (C, F, T, J) with T = ``num_people``; NaN / 0 where a person was not
        detected in a camera (heatmaps moved alike, zeros where missing).
    """
    C, F, K, J = det.shape
    T = num_people
    xy = np.full((C, F, T, J, 2), np.nan)
    conf = np.zeros((C, F, T, J), np.float32)
    c, f, k = np.nonzero(slot_identity >= 0)
    t = slot_identity[c, f, k]
    xy[c, f, t] = det.xy[c, f, k]
    conf[c, f, t] = det.conf[c, f, k]
    hm = aff = None
    if det.heatmaps is not None:
        hm = np.zeros((C, F, T) + det.heatmaps.shape[3:], det.heatmaps.dtype)
        aff = np.zeros((C, F, T, 2, 3))
        hm[c, f, t] = det.heatmaps[c, f, k]
        aff[c, f, t] = det.heatmap_affine[c, f, k]
    return det.replace(xy=xy, conf=conf, heatmaps=hm, heatmap_affine=aff)


def detections_for_points(det: Detections2D, rig: Rig, xyz: np.ndarray,
                          max_rel: float = 0.15, min_px: float = 20.0) -> Detections2D:
    """The detections reordered so that slot p of every view is the skeleton that person p's
    3D keypoints project onto (for a stage run alone that must pair 2D and 3D again, whatever
    association produced the 3D).

    Per camera and frame, the cost of (person, slot) is the median pixel distance over the
    keypoints both have; one assignment (Hungarian) per camera and frame; a pair further than
    ``max(min_px, max_rel x the person's projected extent)`` is not made (that view then has
    nobody in slot p).

    Args:
        det: (C, F, K, J) detections, the rig's cameras, the keypoint format of ``xyz``.
        xyz: (F, P, J, 3) world keypoints, metres, NaN = missing.
    Returns:
        Detections2D (C, F', P, J), F' = min(F of det, F of xyz); NaN / 0 where unmatched.
    """
    C, F, K, J = det.shape
    F = min(F, xyz.shape[0])
    P = xyz.shape[1]
    slot = np.full((C, F, K), -1)
    for c, cam in enumerate(rig):
        uv = cam.project(xyz[:F].reshape(-1, 3)).reshape(F, P, J, 2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            extent = np.nanmax(uv, axis=2) - np.nanmin(uv, axis=2)                   # (F, P, 2)
            gate = np.fmax(min_px, max_rel * np.nanmax(extent, axis=-1))            # (F, P)
        xy = np.where((det.conf[c, :F] > 0)[..., None], det.xy[c, :F], np.nan)  # (F, K, J, 2)
        d = np.linalg.norm(uv[:, :, None] - xy[:, None], axis=-1)              # (F, P, K, J)
        with warnings.catch_warnings():                 # all-NaN rows: nobody to compare
            warnings.simplefilter("ignore", RuntimeWarning)
            cost = np.nanmedian(d, axis=-1)                                      # (F, P, K)
        for f in np.flatnonzero(np.isfinite(cost).any((1, 2))):
            m = np.where(np.isfinite(cost[f]), cost[f], _BIG)
            rows, cols = linear_sum_assignment(m)
            keep = m[rows, cols] < gate[f, rows]
            slot[c, f, cols[keep]] = rows[keep]
    return detections_by_identity(det.replace(xy=det.xy[:, :F], conf=det.conf[:, :F],
                                              heatmaps=None, heatmap_affine=None), slot, P)


@dataclass(frozen=True)
class Identities:
    """Who is who in a take: the result of association and tracking.

    Attributes:
        slot_identity: (C, F, K) int: the identity of every input detection slot, -1 = none.
        num_people: T, the number of identities (the P axis of the output).
        score: (T,) evidence of each identity (views summed over the frames).
        frames_seen: (T,) frames in which each identity was found.
        mode: the association mode that made them.
        camera_names: (C,) in the rig's order.
    """

    slot_identity: np.ndarray
    num_people: int
    score: np.ndarray
    frames_seen: np.ndarray
    mode: str
    camera_names: tuple[str, ...]

    def save(self, path: "str | os.PathLike"):
        return save_npz(path, slot_identity=self.slot_identity,
                        num_people=np.array(self.num_people), score=self.score,
                        frames_seen=self.frames_seen, mode=np.array(self.mode),
                        camera_names=np.array(self.camera_names, dtype=str))

    @classmethod
    def load(cls, path: "str | os.PathLike") -> "Identities":
        d = load_npz(path, ("slot_identity", "num_people", "score", "frames_seen", "mode",
                            "camera_names"), "identities")
        return cls(slot_identity=d["slot_identity"].astype(int),
                   num_people=int(d["num_people"]), score=d["score"].astype(float),
                   frames_seen=d["frames_seen"].astype(int), mode=str(d["mode"]),
                   camera_names=tuple(d["camera_names"].tolist()))


def association_bones(fmt_name: str, joints: np.ndarray) -> np.ndarray:
    """(B, 2) bones of the format between association joints, as indices into ``joints``,
    plus shoulder and hip widths (both are body proportions that do not change with pose)."""
    kf = get_format(fmt_name)
    pos = {int(j): i for i, j in enumerate(joints)}
    pairs = [tuple(b) for b in kf.bone_indices.tolist()]
    for name in ("shoulder", "hip"):
        if f"left_{name}" in kf.joint_names and f"right_{name}" in kf.joint_names:
            pairs.append((kf.index(f"left_{name}"), kf.index(f"right_{name}")))
    out = [(pos[a], pos[b]) for a, b in pairs if a in pos and b in pos]
    return np.array(out, int).reshape(-1, 2)


def _passthrough(det: Detections2D) -> tuple[Detections2D, Identities]:
    C, F, K, J = det.shape
    seen = (det.conf > 0).any(-1)
    slot = np.where(seen, np.arange(K)[None, None, :], -1)
    frames = seen.any(0).sum(0)
    return det, Identities(slot_identity=slot, num_people=K, score=seen.sum((0, 1)).astype(
        float), frames_seen=frames, mode="off", camera_names=det.camera_names)


def identify_people(det: Detections2D, rig: Rig,
                    settings: AssociateSettings = AssociateSettings(),
                    ) -> tuple[Detections2D, Identities]:
    """Association and tracking: the detections with one P slot per person, stable over time.

    Args:
        det: (C, F, K, J) detections, people in the detector's per-camera order.
        rig: the calibrated cameras (order of ``det.camera_names``).
        settings: the ``[associate]`` settings; mode ``off`` returns ``det`` as it is.
    Returns:
        detections (C, F, T, J) with P = identity, and the :class:`Identities`.
    Raises:
        AssociationError: nobody was seen by two cameras at once in any frame.
    """
    check_settings(settings)
    if settings.mode == "off":
        return _passthrough(det)
    assoc = associate_take(det, rig, settings)
    bones = association_bones(det.format, assoc.joints)
    identity, score = track_people(assoc, det.fps, settings, bones, rig)
    T = int(identity.max(initial=-1)) + 1
    if T == 0:
        raise AssociationError(
            f"no person was seen by two or more of the cameras {list(det.camera_names)} at "
            f"once in any of the {det.num_frames} frames (or every track was shorter than "
            f"[associate] min_track_s = {settings.min_track_s} s); nothing to triangulate")
    slot = slot_identities(assoc, identity, det.shape[2])
    frames_seen = _frames_seen(identity, T)
    log.info("identities: %d people, seen in %s frames", T, frames_seen.tolist())
    ids = Identities(slot_identity=slot, num_people=T, score=score, frames_seen=frames_seen,
                     mode=settings.mode, camera_names=det.camera_names)
    return detections_by_identity(det, slot, T), ids
