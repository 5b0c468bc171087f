"""The geometry of cross-view association: detections as world rays, the epipolar distance
between two skeletons (ray to ray), and points triangulated from rays.

Conventions: world frame right-handed, Z up, metres; camera frame OpenCV (``X_cam = R X + t``).
Every detected joint is turned into a *ray* in the world (camera centre + unit direction of
the undistorted pixel), so that every test is a distance in metres, independent of the image
size, the lens and how far the person stands. Association works on the large, reliably
detected joints (:data:`ASSOCIATION_JOINTS`); the final triangulation uses all of them.

The distance of two skeletons in two different cameras is the confidence-weighted mean over
their common joints of the ray-to-ray distance (the epipolar consistency of the two
skeletons, measured in metres at the person): the joint distances clipped at a cap so that
one outlier cannot dominate, a closest approach behind either camera counting as the cap, and
the smaller of the direct and the left/right mirrored pairing (a detector that confused front
and back still matches). A group of skeletons is triangulated as the confidence-weighted
least-squares point closest to its rays, with a robust reweighting.

Frames are processed in chunks (:class:`RayChunk`, frames last in memory, so that numpy's
inner loops are long).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from calibration import Rig

from ..errors import AssociationError
from ..triangulate import undistort_detections
from ..types import Detections2D

__all__ = ["AssociationError", "ASSOCIATION_JOINTS", "Rays", "RayChunk", "association_joints",
           "detection_rays", "ray_chunk", "distance_matrix", "pair_distances",
           "view_distance_matrix", "triangulate_rays", "group_xyz", "point_costs"]

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
    cams = rig.arrays()
    R = cams.R_cam_from_world                                           # (C, 3, 3)
    d = np.einsum("nca,cab->ncb", d_cam, R)                             # R^T d_cam
    d /= np.linalg.norm(d, axis=-1, keepdims=True)
    dirs = np.moveaxis(d.reshape(F, K, Jp, C, 3), 3, 0)                 # (C, F, K, Jp, 3)
    cf = det.conf[:, :, :, joints]
    conf = np.where((cf >= min_conf) & (cf > 0) & np.isfinite(dirs).all(-1), cf,
                    0.0).astype(np.float64)
    usable = (conf > 0).sum(-1) >= max(int(min_joints), 2)
    origin = np.array(cams.centers)
    return Rays(origin=origin, dirs=np.ascontiguousarray(dirs), conf=conf, usable=usable,
                flip=_subset_flip(np.asarray(kf.flip_permutation), joints), joints=joints)


@dataclass(frozen=True)
class RayChunk:
    """The rays of Fc frames, frames last: dirs (3, Jp, C, K, Fc) (0 where missing), conf
    (Jp, C, K, Fc), the same mirrored (``*_flip``), usable (Fc, C, K), origin (C, 3)."""

    origin: np.ndarray
    dirs: np.ndarray
    conf: np.ndarray
    dirs_flip: np.ndarray
    conf_flip: np.ndarray
    usable: np.ndarray

    def frame(self, f: int) -> "RayChunk":
        sl = slice(f, f + 1)
        return RayChunk(self.origin, self.dirs[..., sl], self.conf[..., sl],
                        self.dirs_flip[..., sl], self.conf_flip[..., sl], self.usable[sl])

    def frames(self, idx: np.ndarray) -> "RayChunk":
        """The rays of some of the chunk's frames, (n,) indices."""
        return RayChunk(self.origin, self.dirs[..., idx], self.conf[..., idx],
                        self.dirs_flip[..., idx], self.conf_flip[..., idx], self.usable[idx])


def ray_chunk(rays: Rays, frames: slice) -> RayChunk:
    """The rays of some frames, laid out frames last (see :class:`RayChunk`)."""
    d = np.nan_to_num(rays.dirs[:, frames]).transpose(4, 3, 0, 2, 1)   # (3, Jp, C, K, Fc)
    c = rays.conf[:, frames].transpose(3, 0, 2, 1)                      # (Jp, C, K, Fc)
    d, c = np.ascontiguousarray(d), np.ascontiguousarray(c)
    return RayChunk(rays.origin, d, c, np.ascontiguousarray(d[:, rays.flip]),
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


def _f32(ch: RayChunk) -> tuple:
    """The chunk's arrays for :func:`_pair_block` (float32 is ample for distances in metres)."""
    return (ch.origin, ch.dirs.astype(np.float32), ch.conf.astype(np.float32),
            ch.dirs_flip.astype(np.float32), ch.conf_flip.astype(np.float32))


def distance_matrix(ch: RayChunk, cap_m: float) -> np.ndarray:
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
    return _pair_block(*_f32(ray_chunk(rays, frames)), np.array([a]), np.array([b]), cap_m)[0]


def view_distance_matrix(rays: Rays, frames: slice, cap_m: float) -> np.ndarray:
    """All pairwise skeleton distances of some frames (see :func:`pair_distances`).

    Returns:
        (Fc, C*K, C*K) metres: entry ``[f, a*K + i, b*K + j]`` is the distance between skeleton
        i of camera a and skeleton j of camera b; +inf within one camera, NaN where unknown.
    """
    return distance_matrix(ray_chunk(rays, frames), cap_m)


# ----------------------------------------------------------------------------- triangulation

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


def group_xyz(ch: RayChunk, slots: np.ndarray, flipped: np.ndarray, robust_m: float,
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


def point_costs(ch: RayChunk, X: np.ndarray, cap_m: float) -> tuple[np.ndarray, np.ndarray]:
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
