"""Cross-view association: which 2D skeleton in each camera is which person, frame by frame.

Conventions: world frame right-handed, Z up, metres; camera frame OpenCV (``X_cam = R X + t``).
Every detected joint is turned into a *ray* in the world (camera centre + unit direction of
the undistorted pixel), so that every test below is a distance in metres, independent of the
image size, the lens and how far the person stands. Association works on the large, reliably
detected joints (:data:`ASSOCIATION_JOINTS`); the final triangulation uses all of them.

Per frame, all views are solved jointly:

1. **Pairwise affinities.** For every pair of 2D skeletons in two different cameras, the
   confidence-weighted mean over their common joints of the ray-to-ray distance (the
   epipolar consistency of the two skeletons, measured in metres at the person) — the joint
   distances clipped at a cap so that one outlier cannot dominate, a closest approach behind
   either camera counting as the cap, and the smaller of the direct and the left/right
   mirrored pairing (a detector that confused front and back still matches).
2. **Clustering with cycle consistency.** Average-linkage agglomerative clustering of *all*
   skeletons of *all* cameras at once, never two from one camera in one cluster: clusters, not
   pairwise matches, so the correspondences are transitive (cycle consistent) by construction;
   a merge needs the mean over every cross pair to be small and no pair to be far. One pair of
   views cannot tell two people apart when they stand in the same epipolar plane; the mean
   over all the views of a cluster can.
3. **Reprojection refinement.** Each cluster seen by two or more cameras is triangulated (the
   confidence-weighted least-squares point closest to its rays, with one robust reweighting),
   then every camera's skeletons are re-assigned to the triangulated people by a global
   assignment per camera (Hungarian) on the point-to-ray distance: a skeleton the clustering
   put in the wrong cluster moves, one consistent with nobody is dropped. People left with one
   view are dropped (one view cannot be triangulated), skeletons left over are clustered again
   and duplicate people (same 3D pose) are merged.

A person seen by only two cameras is associated from that one pair. The result per frame is a
set of *groups* (one per person hypothesis) with their member skeleton in each camera, a rough
3D pose and a residual; :mod:`mocap.associate.identities` links them over time.

Frames are processed in chunks, every step batched over the chunk (frames last in memory, so
that numpy's inner loops are long); only the per-camera Hungarian assignments where two people
want the same skeleton run one by one. Chunks are independent: a long take's chunks run in
parallel processes (forked, one per CPU; :data:`PARALLEL_MIN_FRAMES`), with the same result.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from calibration import Rig

from ..parallel import fork_workers, map_spans
from ..settings import AssociateSettings
from ..types import Detections2D
from .assignment import assignment
from .geometry import (AssociationError, RayChunk, association_joints, detection_rays,
                       distance_matrix, group_xyz, point_costs, ray_chunk)

log = logging.getLogger("mocap.associate")      # the stage's logger, for every module

__all__ = ["Association", "cluster_views", "associate_take", "PARALLEL_MIN_FRAMES", "BODY_DEPTH_M"]

_CHUNK_FRAMES = 256    # frames processed together
#: From this many frames on, chunks are associated in parallel processes (one per CPU).
PARALLEL_MIN_FRAMES = 4096
_BIG = 1e6             # cost of a forbidden assignment
#: A torso is about this deep, metres: a person whose centre is nearer a camera than
#: another's by more than this stands in front of them (their body hides the other's), not
#: beside them.
BODY_DEPTH_M = 0.25


@dataclass(frozen=True)
class Association:
    """The people found in every frame, before they are linked over time.

    Attributes:
        slots: (F, G, C) int: the detection slot (P index of the input) of group g in camera
            c, -1 where the group has no skeleton in that camera. Groups are people
            hypotheses, the used ones first; unused groups have -1 everywhere.
        flipped: (F, G, C) bool: that skeleton matched with left and right exchanged.
        xyz: (F, G, Jp, 3) world metres: the group's association joints (``joints``)
            triangulated from its rays (a quick estimate for tracking, not the final
            triangulation); NaN where unknown.
        residual_m: (F, G) confidence-weighted mean distance of the member rays to ``xyz``,
            metres (NaN for unused groups).
        num_views: (F, G) int: cameras in the group (0 = unused).
        joints: (Jp,) indices of ``xyz``'s joints in the keypoint format.
    """

    slots: np.ndarray
    flipped: np.ndarray
    xyz: np.ndarray
    residual_m: np.ndarray
    num_views: np.ndarray
    joints: np.ndarray

    @property
    def num_frames(self) -> int:
        return self.slots.shape[0]

    @property
    def num_groups(self) -> int:
        return self.slots.shape[1]


# ----------------------------------------------------------------------------- clustering

def cluster_views(D: np.ndarray, cams: np.ndarray, max_mean_m: float, max_pair_m: float,
                  usable: "np.ndarray | None" = None) -> np.ndarray:
    """Camera-exclusive average-linkage clustering of skeletons from all cameras at once.

    Repeatedly merges the two clusters with the smallest mean distance over all their cross
    pairs (NaN pairs ignored), as long as that mean is at most ``max_mean_m``, their largest
    pair distance at most ``max_pair_m``, and they share no camera. Frames are clustered in
    lockstep (one merge per frame and step), so a chunk of frames costs about one frame.

    Args:
        D: (..., N, N) symmetric pairwise distances, metres (NaN = unknown, +inf =
            incompatible); leading axes are independent problems (frames).
        cams: (N,) camera index of each skeleton; two skeletons of one camera never merge.
        usable: optional (..., N) bool; unusable skeletons get label -1 and never merge.
    Returns:
        (..., N) int cluster label of each skeleton (the index of one of its members).
    """
    lead, N = D.shape[:-2], D.shape[-1]
    D = np.asarray(D, float).reshape((-1, N, N))
    B = D.shape[0]
    use = (np.ones((B, N), bool) if usable is None
           else np.asarray(usable, bool).reshape(B, N))
    labels = np.tile(np.arange(N), (B, 1))
    D = np.where(cams[:, None] == cams[None, :], np.inf, D)
    D = np.where(use[:, :, None] & use[:, None, :], D, np.inf)
    S = np.where(np.isfinite(D), D, 0.0)
    Cn = np.isfinite(D).astype(np.float64)
    # Largest pair distance; +inf (same camera) propagates, so clusters sharing a camera
    # can never merge.
    Mx = np.where(np.isnan(D), 0.0, D)
    with np.errstate(invalid="ignore", divide="ignore"):
        M = np.where((Cn > 0) & (Mx <= max_pair_m), S / Cn, np.inf)
    alive = use.copy()
    for _ in range(N):
        k = np.argmin(M.reshape(B, N * N), axis=-1)
        go = np.flatnonzero(M.reshape(B, N * N)[np.arange(B), k] <= max_mean_m)
        if len(go) == 0:
            break
        a, b = np.divmod(k[go], N)
        for arr in (S, Cn):
            arr[go, a] += arr[go, b]
            arr[go, :, a] = arr[go, a]
        Mx[go, a] = np.maximum(Mx[go, a], Mx[go, b])
        Mx[go, :, a] = Mx[go, a]
        alive[go, b] = False
        lab = labels[go]
        labels[go] = np.where(lab == b[:, None], a[:, None], lab)
        with np.errstate(invalid="ignore", divide="ignore"):
            row = np.where((Cn[go, a] > 0) & (Mx[go, a] <= max_pair_m) & alive[go],
                           S[go, a] / Cn[go, a], np.inf)
        row[np.arange(len(go)), a] = np.inf
        M[go, a] = row
        M[go, :, a] = row
        M[go, b] = np.inf
        M[go, :, b] = np.inf
    return np.where(use, labels, -1).reshape(lead + (N,))


def _slots_from_labels(labels: np.ndarray, cams: np.ndarray, ks: np.ndarray,
                       C: int) -> np.ndarray:
    """(Fc, N) labels -> (Fc, G, C) slots of the clusters with two or more skeletons."""
    Fc, N = labels.shape
    table = np.full((Fc, N, C), -1)
    f_idx, n_idx = np.nonzero(labels >= 0)
    table[f_idx, labels[f_idx, n_idx], cams[n_idx]] = ks[n_idx]
    return _pack(table)


def _pack(slots: np.ndarray, flipped: "np.ndarray | None" = None):
    """Move the groups with two or more views first and drop the rest.

    Args:
        slots: (Fc, G, C) int. flipped: optional (Fc, G, C) bool, moved alike.
    Returns:
        slots (Fc, G', C) (and flipped), G' = the most groups in one frame (at least 1).
    """
    keep = (slots >= 0).sum(-1) >= 2
    G = max(1, int(keep.sum(-1).max(initial=0)))
    order = np.argsort(~keep, axis=1, kind="stable")[:, :G]
    on = np.take_along_axis(keep, order, 1)[..., None]
    out = np.where(on, np.take_along_axis(slots, order[..., None], 1), -1)
    if flipped is None:
        return out
    return out, on & np.take_along_axis(flipped, order[..., None], 1)


# ----------------------------------------------------------------------------- refinement

def _assign(cost: np.ndarray, flipc: np.ndarray, usable: np.ndarray, max_m: float,
            ) -> tuple[np.ndarray, np.ndarray]:
    """Per frame and camera, the best one-to-one assignment of skeletons to people.

    Args:
        cost: (Fc, G, C, K) metres; flipc: (Fc, G, C, K); usable: (Fc, C, K).
    Returns:
        slots (Fc, G, C) int (-1 = none) and flipped (Fc, G, C) bool. Pairs costing more than
        ``max_m`` are never made.
    """
    Fc, G, C, K = cost.shape
    ok = usable[:, None] & (cost <= max_m)
    cost = np.where(ok, cost, _BIG)
    slots = np.full((Fc, G, C), -1)
    flipped = np.zeros((Fc, G, C), bool)
    best = cost.argmin(-1)                                             # (Fc, G, C)
    has = ok.any(-1)
    # Where every person's best skeleton is a different one, that assignment is optimal.
    hits = np.zeros((Fc, C, K), int)
    fi, gi, ci = np.nonzero(has)
    np.add.at(hits, (fi, ci, best[fi, gi, ci]), 1)
    easy = ~(hits > 1).any(-1)                                         # (Fc, C)
    sel = has & easy[:, None, :]
    slots[sel] = best[sel]
    for f, c in zip(*np.nonzero(~easy)):
        cc = cost[f, :, c]
        r, k = assignment(cc)
        good = cc[r, k] < _BIG
        slots[f, r[good], c] = k[good]
    fi, gi, ci = np.nonzero(slots >= 0)
    flipped[fi, gi, ci] = flipc[fi, gi, ci, slots[fi, gi, ci]]
    return slots, flipped


def _refine(ch: RayChunk, slots: np.ndarray, flipped: np.ndarray, thr: float, cap: float,
            iterations: int = 2):
    """Alternate triangulation and per-camera reassignment; groups need two views."""
    for _ in range(iterations):
        X, _ = group_xyz(ch, slots, flipped, 0.5 * thr)
        cost, flipc = point_costs(ch, X, cap)
        slots, flipped = _assign(cost, flipc, ch.usable, thr)
        slots, flipped = _pack(slots, flipped)
    return slots, flipped


def _leftover_groups(ch: RayChunk, D: np.ndarray, slots: np.ndarray, thr: float,
                     ) -> list:
    """Per frame, the groups formed by the usable skeletons no group took (None if none)."""
    Fc, G, C = slots.shape
    K = ch.usable.shape[-1]
    taken = np.zeros((Fc, C, K), bool)
    f, g, c = np.nonzero(slots >= 0)
    taken[f, c, slots[f, g, c]] = True
    rest = (ch.usable & ~taken).reshape(Fc, C * K)
    cams = np.repeat(np.arange(C), K)
    ks = np.tile(np.arange(K), C)
    near = ((D <= thr) & rest[:, :, None] & rest[:, None, :]).any((-2, -1))
    out: list = [None] * Fc
    for f in np.flatnonzero(near):
        lab = cluster_views(D[f], cams, thr, 2.0 * thr, rest[f])
        groups = _slots_from_labels(lab[None], cams, ks, C)[0]
        groups = groups[(groups >= 0).sum(-1) >= 2]
        if len(groups):
            out[f] = groups
    return out


def _pose_gaps(X: np.ndarray) -> np.ndarray:
    """(..., G, G) mean joint distance between the groups' poses X (..., G, J, 3), metres
    (+inf where fewer than three joints are known in both)."""
    with np.errstate(invalid="ignore"):
        gap = np.linalg.norm(X[..., :, None, :, :] - X[..., None, :, :, :], axis=-1)
    n = np.isfinite(gap).sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(np.isfinite(gap), gap, 0.0).sum(-1) / n
    return np.where(n >= 3, mean, np.inf)


def _merge_duplicates(slots: np.ndarray, flipped: np.ndarray, X: np.ndarray, thr: float):
    """Merge the groups of one frame whose 3D poses coincide (one person split in two).

    slots, flipped: (G, C); X: (G, Jp, 3). The group with more views keeps its skeletons and
    takes the other's in the cameras it lacks.
    """
    G = len(slots)
    gap = _pose_gaps(X)
    gap[np.tril_indices(G)] = np.inf
    slots, flipped = slots.copy(), flipped.copy()
    alive = (slots >= 0).sum(-1) >= 2
    for k in np.argsort(gap, axis=None):
        a, b = divmod(int(k), G)
        if not gap[a, b] <= thr:
            break
        if not (alive[a] and alive[b]):
            continue
        keep, drop = (a, b) if (slots[a] >= 0).sum() >= (slots[b] >= 0).sum() else (b, a)
        add = (slots[keep] < 0) & (slots[drop] >= 0)
        slots[keep, add] = slots[drop, add]
        flipped[keep, add] = flipped[drop, add]
        slots[drop] = -1
        alive[drop] = False
    return slots, flipped


def _fit(arr: np.ndarray, G: int, fill) -> np.ndarray:
    """Pad or crop axis 1 to G."""
    if arr.shape[1] >= G:
        return arr[:, :G]
    pad = np.full((arr.shape[0], G - arr.shape[1]) + arr.shape[2:], fill, arr.dtype)
    return np.concatenate([arr, pad], 1)


def _associate_chunk(ch: RayChunk, settings: AssociateSettings):
    """Associate the frames of a chunk.

    Returns:
        slots (Fc, G, C), flipped (Fc, G, C), X (Fc, G, Jp, 3), residual (Fc, G).
    """
    Fc, C, K = ch.usable.shape
    thr = settings.max_ray_distance_m
    cap = 3.0 * thr
    D = distance_matrix(ch, cap)
    cams = np.repeat(np.arange(C), K)
    ks = np.tile(np.arange(K), C)
    labels = cluster_views(D, cams, thr, 2.0 * thr, ch.usable.reshape(Fc, C * K))
    slots = _slots_from_labels(labels, cams, ks, C)
    slots, flipped = _refine(ch, slots, np.zeros(slots.shape, bool), thr, cap)
    extra = _leftover_groups(ch, D, slots, thr)
    X, res = group_xyz(ch, slots, flipped, 0.5 * thr, iterations=3)
    Xf = X.transpose(3, 2, 1, 0)                                       # (Fc, G, Jp, 3)
    live = (slots >= 0).sum(-1) >= 2
    gaps = np.where(live[:, :, None] & live[:, None, :], _pose_gaps(Xf), np.inf)
    gaps[:, np.arange(slots.shape[1]), np.arange(slots.shape[1])] = np.inf
    dup = (gaps <= thr).any((-2, -1))
    redo = [f for f in range(Fc) if extra[f] is not None or dup[f]]
    if redo:
        slots, flipped = _redo_frames(ch, slots, flipped, Xf, redo, extra, dup, thr, cap)
    slots, flipped, moved = _front_views(ch, slots, flipped, thr, cap)
    if not (redo or moved):
        return slots, flipped, Xf, res
    X, res = group_xyz(ch, slots, flipped, 0.5 * thr, iterations=3)
    return slots, flipped, X.transpose(3, 2, 1, 0), res


def _redo_frames(ch: RayChunk, slots, flipped, Xf, redo: list, extra: list, dup, thr: float,
                 cap: float):
    """The frames with duplicate people merged or skeletons left over grouped, refined again
    (one by one)."""
    rows = []
    for f in redo:
        s, fl = slots[f], flipped[f]
        if dup[f]:
            s, fl = _merge_duplicates(s, fl, Xf[f], thr)
        if extra[f] is not None:
            s = np.concatenate([s, extra[f]])
            fl = np.concatenate([fl, np.zeros(extra[f].shape, bool)])
        s, fl = _refine(ch.frame(f), s[None], fl[None], thr, cap)
        rows.append((f, s[0], fl[0]))
    G = max([slots.shape[1]] + [len(s) for _, s, _ in rows])
    slots, flipped = _fit(slots, G, -1), _fit(flipped, G, False)
    for f, s, fl in rows:
        slots[f], flipped[f] = _fit(s[None], G, -1)[0], _fit(fl[None], G, False)[0]
    return _pack(slots, flipped)


def _front_views(ch: RayChunk, slots: np.ndarray, flipped: np.ndarray, thr: float,
                 cap: float) -> tuple[np.ndarray, np.ndarray, bool]:
    """A camera's skeleton that two people explain goes to the one in front.

    Where two people stand one behind the other in a camera, the one behind is hidden and the
    camera's one skeleton lies close to the rays of both (the rendered studio's crossing: the
    skeleton of the actor in front, 0.4 m before the other, within 0.12 m of either's rays),
    so the distances cannot tell whose it is and the clustering may give it to the person
    behind, who then has a wrong view and the person in front one fewer. It is the front
    person's: a skeleton held by group g moves to a group h that has no skeleton in that
    camera and explains it within ``thr`` (its mean point-to-ray distance), when, with g
    triangulated without that camera, h stands nearer the camera than g by more than a body
    (:data:`BODY_DEPTH_M`) and explains the skeleton better than g does (a front person missed
    by the detector for another reason leaves the skeleton with its own). Frames with one
    person are left as they are.

    Args:
        slots, flipped: (Fc, G, C) the groups. thr, cap: as in :func:`_refine`.
    Returns:
        slots, flipped (packed) and whether anything moved.
    """
    live = (slots >= 0).sum(-1) >= 2                                    # (Fc, G)
    multi = np.flatnonzero(live.sum(-1) >= 2)
    if len(multi) == 0:
        return slots, flipped, False
    sub, s = ch.frames(multi), slots[multi]
    X, _ = group_xyz(sub, s, flipped[multi], 0.5 * thr)
    cost, flipc = point_costs(sub, X, cap)                             # (n, G, C, K)
    depth = _depths(X, sub.origin)                                      # (n, G, C)
    k = np.maximum(s, 0)                                                # (n, G, C)
    n, G, C = s.shape
    # fits[i, h, g, c]: h explains the skeleton g holds in camera c
    fits = np.take_along_axis(cost, np.broadcast_to(k.transpose(0, 2, 1)[:, None],
                                                    (n, G, C, G)), -1)  # (n, h, C, g)
    fits = fits.transpose(0, 1, 3, 2) <= thr                            # (n, h, g, C)
    front = depth[:, :, None, :] < depth[:, None, :, :]                 # h before g
    ok = fits & front & (s[:, :, None, :] < 0) & (s[:, None, :, :] >= 0) & \
        live[multi][:, :, None, None]
    if not ok.any():
        return slots, flipped, False
    loo = _left_out_costs(sub, s, flipped[multi], np.nonzero(ok), thr, cap)
    slots, flipped = slots.copy(), flipped.copy()
    for i, h, g, c in zip(*np.nonzero(ok)):
        f, kk = multi[i], s[i, g, c]
        g_cost, g_depth = loo[(i, g, c)]
        if slots[f, h, c] >= 0 or slots[f, g, c] != kk or not cost[i, h, c, kk] < g_cost \
                or not depth[i, h, c] < g_depth - BODY_DEPTH_M:
            continue            # taken meanwhile, fits its own group better, or beside it
        slots[f, h, c], slots[f, g, c] = s[i, g, c], -1
        flipped[f, h, c], flipped[f, g, c] = flipc[i, h, c, s[i, g, c]], False
    return (*_pack(slots, flipped), True)


def _left_out_costs(ch: RayChunk, slots: np.ndarray, flipped: np.ndarray, cand: tuple,
                    thr: float, cap: float) -> dict:
    """For candidate moves (arrays i, h, g, c of :func:`_front_views`): the cost of the
    skeleton group g holds in camera c against g triangulated without camera c, metres (its
    plain cost where g has no other two views), and that g's distance from camera c:
    {(i, g, c): (cost, depth)}."""
    out = {}
    i_all, _, g_all, c_all = cand
    for c in np.unique(c_all):
        on = c_all == c
        idx = np.unique(i_all[on])
        s_c = slots[idx].copy()
        s_c[:, :, c] = -1
        sub = ch.frames(idx)
        Xc, _ = group_xyz(sub, s_c, flipped[idx], 0.5 * thr)
        loo, _ = point_costs(sub, Xc, cap)
        plain, _ = point_costs(sub, group_xyz(sub, slots[idx], flipped[idx], 0.5 * thr)[0], cap)
        depth = _depths(Xc, sub.origin)
        for i, g in zip(i_all[on], g_all[on]):
            r, k = int(np.searchsorted(idx, i)), slots[i, g, c]
            v = loo[r, g, c, k]
            out[(i, g, c)] = (v, depth[r, g, c]) if np.isfinite(v) else \
                (plain[r, g, c, k], np.inf)
    return out


def _depths(X: np.ndarray, origin: np.ndarray) -> np.ndarray:
    """(n, G, C) distance of each group's centre (mean of its known joints; X (3, Jp, G, n))
    from each camera centre (origin (C, 3)), metres."""
    known = np.isfinite(X).all(0)                                       # (Jp, G, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        centre = np.where(known, X, 0.0).sum(1) / known.sum(0)          # (3, G, n)
    return np.linalg.norm(centre.transpose(2, 1, 0)[:, :, None, :] - origin[None, None],
                          axis=-1)


def _chunk_job(shared: tuple, start: int):
    """One chunk's association: shared = (the take's detections, rig, settings), the chunk's
    first frame ``start`` -> what :func:`_associate_chunk` returns."""
    det, rig, settings = shared
    s = slice(start, start + _CHUNK_FRAMES)
    part = det.replace(xy=det.xy[:, s], conf=det.conf[:, s], heatmaps=None,
                       heatmap_affine=None)
    rays = detection_rays(rig, part, settings.min_conf, settings.min_joints)
    return _associate_chunk(ray_chunk(rays, slice(None)), settings)


def associate_take(det: Detections2D, rig: Rig,
                   settings: AssociateSettings = AssociateSettings()) -> Association:
    """Associate the skeletons of every frame of a take across the cameras.

    Args:
        det: detections (C, F, K, J) in any per-camera order (the detector's).
        rig: the calibrated cameras, in the order of ``det.camera_names``.
        settings: ``min_conf``, ``min_joints`` and ``max_ray_distance_m`` are used here.
    Returns:
        :class:`Association` with G = the largest number of people found in one frame.
    """
    F = det.num_frames
    joints = association_joints(det.keypoint_format.joint_names)
    # rays chunk by chunk (memory stays bounded), the chunks in parallel on a long take
    starts = list(range(0, F, _CHUNK_FRAMES))
    parts = map_spans(_chunk_job, (det.replace(heatmaps=None, heatmap_affine=None), rig,
                                   settings), starts,
                      fork_workers(len(starts)) if F >= PARALLEL_MIN_FRAMES else 1)
    if not parts:
        raise AssociationError("the detections have no frames; nothing to associate")
    G = max(p[0].shape[1] for p in parts)
    slots = np.concatenate([_fit(p[0], G, -1) for p in parts])
    flipped = np.concatenate([_fit(p[1], G, False) for p in parts])
    xyz = np.concatenate([_fit(p[2], G, np.nan) for p in parts])
    residual = np.concatenate([_fit(p[3], G, np.nan) for p in parts])
    num_views = (slots >= 0).sum(-1)
    xyz[num_views == 0] = np.nan
    residual[num_views == 0] = np.nan
    log.info("association: %d frames, %.2f people per frame on average (at most %d), "
             "%.1f views per person", F, (num_views > 0).sum() / max(F, 1), G,
             num_views[num_views > 0].mean() if (num_views > 0).any() else 0.0)
    return Association(slots=slots, flipped=flipped, xyz=xyz, residual_m=residual,
                       num_views=num_views, joints=joints)
