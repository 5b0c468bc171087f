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
3D pose and a residual; :mod:`mocap.track` links them over time.

Frames are processed in chunks, every step batched over the chunk (frames last in memory, so
that numpy's inner loops are long); only the per-camera Hungarian assignments where two people
want the same skeleton run one by one.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from calibration import Rig

from .errors import AssociationError
from .settings import AssociateSettings
from .triangulate import undistort_detections
from .types import Detections2D

log = logging.getLogger(__name__)

__all__ = ["AssociationError", "ASSOCIATION_JOINTS", "Rays", "Association",
           "association_joints", "detection_rays", "pair_distances", "view_distance_matrix",
           "cluster_views", "triangulate_rays", "check_settings", "associate_take"]

_CHUNK_FRAMES = 64     # frames processed together
_BIG = 1e6             # cost of a forbidden assignment
_MIN_COMMON = 3        # fewest common joints for a distance between two skeletons

#: Joints association works on (those of the format that are in this list; all joints when
#: fewer than 6 are): the large, reliably detected ones, present in every format.
ASSOCIATION_JOINTS = ("nose", "neck", "pelvis", "left_shoulder", "right_shoulder",
                      "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
                      "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle")


@dataclass(frozen=True)
class Rays:
    """The association joints of a take's detections as world rays.

    Attributes:
        origin: (C, 3) camera centres, world metres.
        dirs: (C, F, K, Jp, 3) unit ray directions, world frame; NaN where missing.
        conf: (C, F, K, Jp) confidences, 0 where missing or below ``min_conf``.
        usable: (C, F, K) bool: the skeleton has at least ``min_joints`` confident joints.
        flip: (Jp,) left/right permutation within the association joints.
        joints: (Jp,) indices of the association joints in the keypoint format.
    """

    origin: np.ndarray
    dirs: np.ndarray
    conf: np.ndarray
    usable: np.ndarray
    flip: np.ndarray
    joints: np.ndarray

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """(C, F, K, Jp)."""
        return tuple(self.conf.shape)  # type: ignore[return-value]


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


# ----------------------------------------------------------------------------- rays

def association_joints(joint_names) -> np.ndarray:
    """(Jp,) indices of :data:`ASSOCIATION_JOINTS` in a format (all if fewer than 6 match)."""
    idx = [i for i, n in enumerate(joint_names) if n in ASSOCIATION_JOINTS]
    return np.array(idx if len(idx) >= 6 else range(len(joint_names)), int)


def _subset_flip(flip: np.ndarray, joints: np.ndarray) -> np.ndarray:
    """Left/right permutation within a joint subset (a partner outside maps to itself)."""
    pos = {int(j): i for i, j in enumerate(joints)}
    return np.array([pos.get(int(flip[j]), i) for i, j in enumerate(joints)], int)


def detection_rays(rig: Rig, det: Detections2D, min_conf: float = 0.2,
                   min_joints: int = 5) -> Rays:
    """World rays of the association joints of every detection (lens distortion removed).

    Args:
        rig: the calibrated cameras, in the order of ``det.camera_names``.
        det: detections (C, F, K, J).
        min_conf: joints below this confidence are ignored (confidence set to 0).
        min_joints: skeletons with fewer confident association joints are not usable.
    Returns:
        :class:`Rays`.
    """
    if tuple(det.camera_names) != tuple(rig.names):
        raise AssociationError(
            f"detections are for cameras {list(det.camera_names)}, the calibration has "
            f"{list(rig.names)}; expected the same cameras in the same order")
    C, F, K, _ = det.shape
    kf = det.keypoint_format
    joints = association_joints(kf.joint_names)
    Jp = len(joints)
    xy = np.moveaxis(det.xy[:, :, :, joints], 0, 3).reshape(-1, C, 2)  # (F*K*Jp, C, 2)
    xy_n, _ = undistort_detections(rig, xy)
    d_cam = np.concatenate([xy_n, np.ones(xy_n.shape[:2] + (1,))], -1)
    R = np.stack([cam.R_cam_from_world for cam in rig])                 # (C, 3, 3)
    d = np.einsum("nca,cab->ncb", d_cam, R)                             # R^T d_cam
    d /= np.linalg.norm(d, axis=-1, keepdims=True)
    dirs = np.moveaxis(d.reshape(F, K, Jp, C, 3), 3, 0)                 # (C, F, K, Jp, 3)
    cf = det.conf[:, :, :, joints]
    conf = np.where((cf >= min_conf) & (cf > 0) & np.isfinite(dirs).all(-1), cf,
                    0.0).astype(np.float64)
    usable = (conf > 0).sum(-1) >= max(int(min_joints), 2)
    origin = np.stack([cam.center for cam in rig])
    return Rays(origin=origin, dirs=np.ascontiguousarray(dirs), conf=conf, usable=usable,
                flip=_subset_flip(np.asarray(kf.flip_permutation), joints), joints=joints)


@dataclass(frozen=True)
class _Chunk:
    """The rays of Fc frames, frames last: dirs (3, Jp, C, K, Fc) (0 where missing), conf
    (Jp, C, K, Fc), the same mirrored (``*_flip``), usable (Fc, C, K), origin (C, 3)."""

    origin: np.ndarray
    dirs: np.ndarray
    conf: np.ndarray
    dirs_flip: np.ndarray
    conf_flip: np.ndarray
    usable: np.ndarray

    def frame(self, f: int) -> "_Chunk":
        sl = slice(f, f + 1)
        return _Chunk(self.origin, self.dirs[..., sl], self.conf[..., sl],
                      self.dirs_flip[..., sl], self.conf_flip[..., sl], self.usable[sl])


def _chunk(rays: Rays, frames: slice) -> _Chunk:
    d = np.nan_to_num(rays.dirs[:, frames]).transpose(4, 3, 0, 2, 1)   # (3, Jp, C, K, Fc)
    c = rays.conf[:, frames].transpose(3, 0, 2, 1)                      # (Jp, C, K, Fc)
    d, c = np.ascontiguousarray(d), np.ascontiguousarray(c)
    return _Chunk(rays.origin, d, c, np.ascontiguousarray(d[:, rays.flip]),
                  np.ascontiguousarray(c[rays.flip]),
                  np.moveaxis(rays.usable[:, frames], 0, 1))


# ----------------------------------------------------------------------------- pair distances

def _pair_block(origin, dirs, conf, dirs_flip, conf_flip, pa: np.ndarray, pb: np.ndarray,
                cap_m: float) -> np.ndarray:
    """Distances between the skeletons of the camera pairs (pa[i], pb[i]), all at once.

    dirs: (3, Jp, C, K, Fc) float32, conf (Jp, C, K, Fc). Returns (P, Fc, K, K) metres
    (see :func:`pair_distances`).
    """
    r0 = (origin[pa] - origin[pb]).T.astype(np.float32)[:, :, None, None, None]  # (3, P, 1, 1, 1)
    A = dirs[:, :, pa, :, None]                                         # (3, Jp, P, K, 1, Fc)
    d_a = A[0] * r0[0] + A[1] * r0[1] + A[2] * r0[2]
    best = None
    for B3, cb in ((dirs[:, :, pb], conf[:, pb]), (dirs_flip[:, :, pb], conf_flip[:, pb])):
        B = B3[:, :, :, None]                                           # (3, Jp, P, 1, K, Fc)
        # |r0 . (da x db)| / |da x db|, with r0 . (da x db) = da . (db x r0).
        u = (B[1] * r0[2] - B[2] * r0[1], B[2] * r0[0] - B[0] * r0[2],
             B[0] * r0[1] - B[1] * r0[0])
        e_b = B[0] * r0[0] + B[1] * r0[1] + B[2] * r0[2]
        dot = A[0] * B[0]
        dot += A[1] * B[1]
        dot += A[2] * B[2]
        num = A[0] * u[0]
        num += A[1] * u[1]
        num += A[2] * u[2]
        den = 1.0 - dot * dot
        parallel = den < 1e-10
        np.maximum(den, 1e-10, out=den)
        gap = np.abs(num) / np.sqrt(den)
        # The closest points are oa + s da and ob + t db with s = (dot e_b - d_a) / den and
        # t = (e_b - dot d_a) / den (d_a = da . r0, e_b = db . r0, den > 0): both must be
        # in front of their camera.
        front = (dot * e_b > d_a) & (e_b > dot * d_a) & ~parallel
        gap = np.where(front, np.minimum(gap, cap_m), np.float32(cap_m))
        w = np.minimum(conf[:, pa, :, None], cb[:, :, None])            # (Jp, P, K, K, Fc)
        n = (w > 0).sum(0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = (w * gap).sum(0) / w.sum(0)
        mean = np.where(n >= _MIN_COMMON, mean, np.nan)
        best = mean if best is None else np.fmin(best, mean)
    return best.transpose(0, 3, 1, 2).astype(np.float64)


def _f32(ch: _Chunk) -> tuple:
    """The chunk's arrays for :func:`_pair_block` (float32 is ample for distances in metres)."""
    return (ch.origin, ch.dirs.astype(np.float32), ch.conf.astype(np.float32),
            ch.dirs_flip.astype(np.float32), ch.conf_flip.astype(np.float32))


def _distance_matrix(ch: _Chunk, cap_m: float) -> np.ndarray:
    """(Fc, C*K, C*K) pairwise skeleton distances of a chunk (see view_distance_matrix)."""
    _, _, C, K, Fc = ch.dirs.shape
    pa, pb = np.triu_indices(C, 1)
    D = np.full((Fc, C * K, C * K), np.inf)
    if len(pa) == 0:
        return D
    blocks = _pair_block(*_f32(ch), pa, pb, cap_m)                      # (P, Fc, K, K)
    for i, (a, b) in enumerate(zip(pa, pb)):
        D[:, a * K:(a + 1) * K, b * K:(b + 1) * K] = blocks[i]
        D[:, b * K:(b + 1) * K, a * K:(a + 1) * K] = np.swapaxes(blocks[i], 1, 2)
    return D


def pair_distances(rays: Rays, a: int, b: int, frames: slice, cap_m: float) -> np.ndarray:
    """Distance between every skeleton of camera ``a`` and every skeleton of camera ``b``.

    The distance of two skeletons is the weighted mean, over the joints both detected (three
    at least), of the ray-to-ray distance clipped at ``cap_m`` (weight: the smaller
    confidence; a closest approach behind either camera counts as ``cap_m``); the smaller of
    the direct and the left/right mirrored pairing.

    Args:
        rays: the take's rays. a, b: camera indices (a != b). frames: which frames.
        cap_m: per-joint clip, metres.
    Returns:
        (Fc, K, K) metres, NaN where fewer than three common joints.
    """
    if a == b:
        raise AssociationError(f"pair_distances: cameras must differ, found {a} twice")
    return _pair_block(*_f32(_chunk(rays, frames)), np.array([a]), np.array([b]), cap_m)[0]


def view_distance_matrix(rays: Rays, frames: slice, cap_m: float) -> np.ndarray:
    """All pairwise skeleton distances of some frames (see :func:`pair_distances`).

    Returns:
        (Fc, C*K, C*K) metres: entry ``[f, a*K + i, b*K + j]`` is the distance between skeleton
        i of camera a and skeleton j of camera b; +inf within one camera, NaN where unknown.
    """
    return _distance_matrix(_chunk(rays, frames), cap_m)


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


# ----------------------------------------------------------------------------- geometry

def _solve(o, d, w, axis: int):
    """Weighted least-squares point closest to rays, in closed form (3 x 3 adjugate).

    Minimises ``sum_v w_v |(I - d_v d_v^T)(X - o_v)|^2`` over the ray axis ``axis``.

    Args:
        o: 3 arrays (origin components) broadcastable to ``w``. d: 3 arrays shaped like
            ``w``: unit directions, 0 where w = 0. w: non-negative weights.
    Returns:
        3 arrays (``w`` without ``axis``): the point's components, NaN where fewer than two
        weighted rays or (nearly) parallel ones.
    """
    sw = w.sum(axis)
    wd = [w * dk for dk in d]
    do = d[0] * o[0] + d[1] * o[1] + d[2] * o[2]
    m = {(i, j): (sw if i == j else 0.0) - (wd[i] * d[j]).sum(axis)
         for i, j in ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2))}
    r = [(w * o[k]).sum(axis) - (wd[k] * do).sum(axis) for k in range(3)]
    a, b, c, e, f, g = m[0, 0], m[0, 1], m[0, 2], m[1, 1], m[1, 2], m[2, 2]
    c00, c01, c02 = e * g - f * f, c * f - b * g, b * f - c * e
    c11, c12, c22 = a * g - c * c, b * c - a * f, a * e - b * b
    det = a * c00 + b * c01 + c * c02
    ok = ((w > 0).sum(axis) >= 2) & (det > 1e-9 * np.maximum(sw, 1e-12) ** 3)
    inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), np.nan)
    return ((c00 * r[0] + c01 * r[1] + c02 * r[2]) * inv,
            (c01 * r[0] + c11 * r[1] + c12 * r[2]) * inv,
            (c02 * r[0] + c12 * r[1] + c22 * r[2]) * inv)


def _perp(X, o, d):
    """Distance of points to rays (3-tuples of broadcastable arrays), metres; +inf where the
    point is behind the ray's origin, NaN where the point is unknown."""
    v = [X[k] - o[k] for k in range(3)]
    along = v[0] * d[0] + v[1] * d[1] + v[2] * d[2]
    with np.errstate(invalid="ignore"):
        perp = np.sqrt(np.maximum(v[0] * v[0] + v[1] * v[1] + v[2] * v[2] - along * along,
                                  0.0))
        return np.where(along > 0, perp, np.where(np.isnan(along), np.nan, np.inf))


def _robust_solve(o, d, w, axis: int, robust_m: float, iterations: int = 1):
    """:func:`_solve`, then ``iterations`` re-solves with each ray's weight multiplied by
    ``1 / (1 + (dist / robust_m)^2)`` (Cauchy), dist its distance to the previous solution.

    Returns the point (3 arrays) and each ray's distance to it (shaped like w)."""
    X = _solve(o, d, w, axis)
    dist = _perp([np.expand_dims(x, axis) for x in X], o, d)
    for _ in range(iterations if robust_m > 0 else 0):
        with np.errstate(over="ignore"):
            wk = w / (1.0 + (np.nan_to_num(dist, nan=0.0) / robust_m) ** 2)
        X = _solve(o, d, wk, axis)
        dist = _perp([np.expand_dims(x, axis) for x in X], o, d)
    return X, dist


def triangulate_rays(origin: np.ndarray, dirs: np.ndarray, w: np.ndarray,
                     robust_m: float = 0.0, iterations: int = 3,
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares points closest to weighted rays, with an optional robust reweighting.

    Minimises ``sum_v w_v |(I - d_v d_v^T)(X - o_v)|^2`` (squared point-to-ray distances).

    Args:
        origin: (..., V, 3) ray origins (camera centres), world metres. dirs: (..., V, J, 3)
            directions (normalised here; NaN allowed where w = 0). w: (..., V, J) weights >= 0.
        robust_m: if > 0, ``iterations`` more solves reweight each ray by
            ``1 / (1 + (dist / robust_m)^2)``, dist its distance to the previous solution
            (iteratively reweighted least squares, Cauchy).
    Returns:
        X (..., J, 3) metres (NaN where fewer than two weighted rays or parallel rays) and the
        distance of each weighted ray to it, (..., V, J) metres (NaN where w = 0); float64
        whatever the input (the distances subtract squares of metres).
    """
    w = np.asarray(w, float)
    dirs = np.asarray(dirs, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        dirs = dirs / np.linalg.norm(dirs, axis=-1, keepdims=True)
    origin = np.asarray(origin, float)
    on = w > 0
    d = [np.where(on, dirs[..., k], 0.0) for k in range(3)]
    o = [origin[..., :, None, k] for k in range(3)]
    X, dist = _robust_solve(o, d, w, -2, robust_m, iterations)
    return np.stack(X, -1), np.where(on, dist, np.nan)


def _group_xyz(ch: _Chunk, slots: np.ndarray, flipped: np.ndarray, robust_m: float,
               iterations: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Triangulate groups.

    Args:
        slots, flipped: (Fc, G, C). robust_m, iterations: see :func:`triangulate_rays`.
    Returns:
        X (3, Jp, G, Fc) metres and residual (Fc, G): confidence-weighted mean distance of the
        member rays, metres.
    """
    Fc, G, C = slots.shape
    cI = np.arange(C)[:, None, None]
    kI = np.maximum(slots, 0).transpose(2, 1, 0)                       # (C, G, Fc)
    fI = np.arange(Fc)[None, None, :]
    fl = flipped.transpose(2, 1, 0)                                     # (C, G, Fc)
    d = np.where(fl, ch.dirs_flip[:, :, cI, kI, fI], ch.dirs[:, :, cI, kI, fI])
    w = np.where(fl, ch.conf_flip[:, cI, kI, fI], ch.conf[:, cI, kI, fI])
    w = np.where(slots.transpose(2, 1, 0) >= 0, w, 0.0)                # (Jp, C, G, Fc)
    o = [ch.origin[:, k][None, :, None, None] for k in range(3)]
    X, dist = _robust_solve(o, list(d), w, 1, robust_m, iterations)
    used = (w > 0) & np.isfinite(dist)
    with np.errstate(invalid="ignore", divide="ignore"):
        res = ((np.where(used, dist, 0.0) * w).sum((0, 1))
               / np.where(used, w, 0.0).sum((0, 1)))
    return np.stack(X), res.T


def _costs(ch: _Chunk, X: np.ndarray, cap_m: float) -> tuple[np.ndarray, np.ndarray]:
    """How well each 3D person explains each 2D skeleton.

    Args:
        X: (3, Jp, G, Fc) people, metres (NaN = unknown joint). cap_m: per-joint clip.
    Returns:
        cost (Fc, G, C, K): confidence-weighted mean point-to-ray distance, metres (the
        smaller of the direct and the mirrored labelling; NaN where fewer than three joints),
        and flipped (Fc, G, C, K) bool: the mirrored labelling was the better one.
    """
    known = np.isfinite(X).all(0)[:, :, None, None, :]                 # (Jp, G, 1, 1, Fc)
    v = [X[k][:, :, None, None, :] - ch.origin[:, k][None, None, :, None, None]
         for k in range(3)]                                             # (Jp, G, C, 1, Fc)
    vv = v[0] * v[0] + v[1] * v[1] + v[2] * v[2]
    out = []
    for dirs, conf in ((ch.dirs, ch.conf), (ch.dirs_flip, ch.conf_flip)):
        d = dirs[:, :, None]                                            # (3, Jp, 1, C, K, Fc)
        along = v[0] * d[0] + v[1] * d[1] + v[2] * d[2]                # (Jp, G, C, K, Fc)
        with np.errstate(invalid="ignore"):
            perp = np.sqrt(np.maximum(vv - along * along, 0.0))
            gap = np.minimum(np.where(along > 0, perp, cap_m), cap_m)
        w = conf[:, None] * known
        gap = np.where(w > 0, gap, 0.0)
        n = (w > 0).sum(0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = (w * gap).sum(0) / w.sum(0)
        out.append(np.where(n >= _MIN_COMMON, mean, np.nan).transpose(3, 0, 1, 2))
    direct, mirrored = out
    flipped = np.nan_to_num(mirrored, nan=np.inf) < np.nan_to_num(direct, nan=np.inf)
    return np.fmin(direct, mirrored), flipped


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
        r, k = linear_sum_assignment(cc)
        good = cc[r, k] < _BIG
        slots[f, r[good], c] = k[good]
    fi, gi, ci = np.nonzero(slots >= 0)
    flipped[fi, gi, ci] = flipc[fi, gi, ci, slots[fi, gi, ci]]
    return slots, flipped


def _refine(ch: _Chunk, slots: np.ndarray, flipped: np.ndarray, thr: float, cap: float,
            iterations: int = 2):
    """Alternate triangulation and per-camera reassignment; groups need two views."""
    for _ in range(iterations):
        X, _ = _group_xyz(ch, slots, flipped, 0.5 * thr)
        cost, flipc = _costs(ch, X, cap)
        slots, flipped = _assign(cost, flipc, ch.usable, thr)
        slots, flipped = _pack(slots, flipped)
    return slots, flipped


def _leftover_groups(ch: _Chunk, D: np.ndarray, slots: np.ndarray, thr: float,
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


def _associate_chunk(ch: _Chunk, settings: AssociateSettings):
    """Associate the frames of a chunk.

    Returns:
        slots (Fc, G, C), flipped (Fc, G, C), X (Fc, G, Jp, 3), residual (Fc, G).
    """
    Fc, C, K = ch.usable.shape
    thr = settings.max_ray_distance_m
    cap = 3.0 * thr
    D = _distance_matrix(ch, cap)
    cams = np.repeat(np.arange(C), K)
    ks = np.tile(np.arange(K), C)
    labels = cluster_views(D, cams, thr, 2.0 * thr, ch.usable.reshape(Fc, C * K))
    slots = _slots_from_labels(labels, cams, ks, C)
    slots, flipped = _refine(ch, slots, np.zeros(slots.shape, bool), thr, cap)
    extra = _leftover_groups(ch, D, slots, thr)
    X, res = _group_xyz(ch, slots, flipped, 0.5 * thr, iterations=3)
    Xf = X.transpose(3, 2, 1, 0)                                       # (Fc, G, Jp, 3)
    live = (slots >= 0).sum(-1) >= 2
    gaps = np.where(live[:, :, None] & live[:, None, :], _pose_gaps(Xf), np.inf)
    gaps[:, np.arange(slots.shape[1]), np.arange(slots.shape[1])] = np.inf
    dup = (gaps <= thr).any((-2, -1))
    redo = [f for f in range(Fc) if extra[f] is not None or dup[f]]
    if not redo:
        return slots, flipped, Xf, res
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
    slots, flipped = _pack(slots, flipped)
    X, res = _group_xyz(ch, slots, flipped, 0.5 * thr, iterations=3)
    return slots, flipped, X.transpose(3, 2, 1, 0), res


def check_settings(settings: AssociateSettings) -> None:
    """Raise :class:`AssociationError` naming the ``[associate]`` key that is out of range."""
    if settings.mode not in ("multi", "main_subject", "off"):
        raise AssociationError(f"[associate] mode = {settings.mode!r}; expected 'multi', "
                               f"'main_subject' or 'off'")
    for key in ("max_ray_distance_m", "track_gate_m", "max_speed_m_per_s",
                "reid_bone_tolerance", "volume_radius_m"):
        if not getattr(settings, key) > 0:
            raise AssociationError(f"[associate] {key} = {getattr(settings, key)}; "
                                   f"expected > 0")
    for key in ("min_conf", "max_gap_s", "reid_max_gap_s", "min_track_s"):
        if not getattr(settings, key) >= 0:
            raise AssociationError(f"[associate] {key} = {getattr(settings, key)}; "
                                   f"expected >= 0")
    if settings.min_joints < 2:
        raise AssociationError(f"[associate] min_joints = {settings.min_joints}; expected >= 2")
    if settings.max_people < 0:
        raise AssociationError(f"[associate] max_people = {settings.max_people}; "
                               f"expected >= 0 (0: no limit)")


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
    check_settings(settings)
    F = det.num_frames
    parts = []
    joints = association_joints(det.keypoint_format.joint_names)
    for s in range(0, F, _CHUNK_FRAMES):          # rays chunk by chunk: memory stays bounded
        frames = slice(s, min(F, s + _CHUNK_FRAMES))
        part = det.replace(xy=det.xy[:, frames], conf=det.conf[:, frames], heatmaps=None,
                           heatmap_affine=None)
        rays = detection_rays(rig, part, settings.min_conf, settings.min_joints)
        parts.append(_associate_chunk(_chunk(rays, slice(None)), settings))
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
