"""Which keypoints each camera sees: rays cast from the camera centre to every keypoint
against the actors' posed meshes, in numpy (no Blender), so the truth can be redefined
without rendering the images again.

A keypoint is hidden from a camera when some actor triangle crosses the segment from the
camera centre to it more than ``tolerance_m`` in front of it (joints lie inside the body, so
the body's own skin right above a joint does not hide it); the floor never hides a keypoint.
This is the rule Blender's ``scene.ray_cast`` applied before (first surface hit nearer than
the keypoint's distance less the tolerance). Triangles are culled per ray by their bounding
box in the camera's normalised image plane, then intersected exactly (Moller-Trumbore).
"""
from __future__ import annotations

import numpy as np

from calibration import Rig

__all__ = ["segment_hits", "keypoint_visibility"]

_EPS = 1e-12


def _plane_boxes(tri_cam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bounding boxes (T, 2) lo and hi of triangles (T, 3, 3) (camera frame, metres) in the
    normalised image plane; a triangle reaching behind the camera gets an infinite box."""
    z = tri_cam[..., 2]
    front = (z > 1e-6).all(1)
    uv = tri_cam[..., :2] / np.where(front[:, None], z, 1.0)[..., None]
    lo, hi = uv.min(1), uv.max(1)
    lo[~front], hi[~front] = -np.inf, np.inf
    return lo, hi


def segment_hits(origin: np.ndarray, points: np.ndarray, tri: np.ndarray,
                 candidates: np.ndarray, tolerance_m: float) -> np.ndarray:
    """(N,) whether a triangle crosses each segment ``origin -> points[n]`` more than
    ``tolerance_m`` before its end.

    Args:
        origin: (3,) metres. points: (N, 3) metres. tri: (T, 3, 3) triangle corners, metres.
        candidates: (M, 2) int pairs (point n, triangle t) to test (the others cannot hit).
    """
    out = np.zeros(len(points), bool)
    if not len(candidates):
        return out
    n, t = candidates[:, 0], candidates[:, 1]
    d = points[n] - origin                                              # (M, 3)
    a, b, c = tri[t, 0], tri[t, 1], tri[t, 2]
    e1, e2 = b - a, c - a
    p = np.cross(d, e2)
    det = np.einsum("md,md->m", e1, p)
    ok = np.abs(det) > _EPS
    inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
    s = origin - a
    u = np.einsum("md,md->m", s, p) * inv
    q = np.cross(s, e1)
    v = np.einsum("md,md->m", d, q) * inv
    w = np.einsum("md,md->m", e2, q) * inv                              # along d: 1 = the point
    length = np.linalg.norm(d, axis=1)
    hit = ok & (u >= 0) & (v >= 0) & (u + v <= 1) & (w > 0) \
        & (w * length < length - tolerance_m)
    np.logical_or.at(out, n[hit], True)
    return out


def _camera_visibility(R: np.ndarray, t: np.ndarray, center: np.ndarray, points: np.ndarray,
                       tri: np.ndarray, tolerance_m: float) -> np.ndarray:
    """(N,) visibility of points (N, 3) from one camera (``R_cam_from_world`` (3, 3),
    ``t_cam_from_world`` (3,), centre (3,)) among triangles (T, 3, 3), world metres."""
    lo, hi = _plane_boxes(tri @ R.T + t)
    pc = points @ R.T + t
    behind = pc[:, 2] <= 1e-6
    uv = pc[:, :2] / np.where(behind, 1.0, pc[:, 2])[:, None]
    u = uv[:, :1]
    inside = (lo[:, 0] <= u) & (hi[:, 0] >= u)                          # (N, T) on u alone
    inside[behind] = True
    pairs = np.argwhere(inside)
    n, t = pairs[:, 0], pairs[:, 1]
    keep = behind[n] | ((lo[t, 1] <= uv[n, 1]) & (hi[t, 1] >= uv[n, 1]))  # then on v
    hidden = segment_hits(center, points, tri, pairs[keep], tolerance_m)
    return ~hidden


def keypoint_visibility(rig: Rig, vertices: list, faces: np.ndarray, keypoints: np.ndarray,
                        tolerance_m: float = 0.12) -> np.ndarray:
    """(C, F, P, K) bool: whether each camera of ``rig`` sees each keypoint (lens and image
    bounds not considered: see :func:`mocap.simulate.render.take.render_take`).

    Args:
        vertices: per actor (F, V, 3) posed mesh, world metres. faces: (T, 3) vertex indices
            (every actor shares the topology). keypoints: (F, P, K, 3) world metres.
        tolerance_m: how far in front of a keypoint a surface must lie to hide it.
    """
    F, P, K, _ = keypoints.shape
    faces = np.asarray(faces, np.int64)
    out = np.ones((len(rig), F, P, K), bool)
    if K == 0 or not vertices:
        return out
    for f in range(F):
        tri = np.concatenate([np.asarray(v[f], np.float64)[faces] for v in vertices])
        pts = keypoints[f].reshape(-1, 3).astype(np.float64)
        uniq, back = np.unique(pts, axis=0, return_inverse=True)
        for c, cam in enumerate(rig):
            vis = _camera_visibility(cam.R_cam_from_world, cam.t_cam_from_world, cam.center,
                                     uniq, tri, tolerance_m)
            out[c, f] = vis[back.ravel()].reshape(P, K)
    return out
