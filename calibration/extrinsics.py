"""First guess of the extrinsics: cameras linked over a graph of shared board views.

Two cameras are linked when they saw the board in the same frame; the weight of a link is the
number of such frames. From the rig's first camera (the world frame of the first guess), the
maximum spanning tree of that graph places every camera: each new camera's pose relative to an
already placed one is the robust mean over their shared frames of
``T_b_from_board @ inv(T_a_from_board)``. A camera that cannot be reached raises
:class:`~calibration.errors.DisconnectedCamerasError` naming it.

Poses are (4, 4) homogeneous transforms named ``T_<to>_from_<from>``, metres.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from calibration.errors import DisconnectedCamerasError

log = logging.getLogger(__name__)


def invert_pose(T: np.ndarray) -> np.ndarray:
    """Inverse of rigid transforms (..., 4, 4)."""
    R = T[..., :3, :3]
    t = T[..., :3, 3]
    out = np.zeros_like(T)
    Rt = np.swapaxes(R, -1, -2)
    out[..., :3, :3] = Rt
    out[..., :3, 3] = -np.einsum("...ij,...j->...i", Rt, t)
    out[..., 3, 3] = 1.0
    return out


def rotation_angle_deg(R_a: np.ndarray, R_b: np.ndarray) -> np.ndarray:
    """Angle (degrees) of ``R_a^T R_b`` for rotations (..., 3, 3)."""
    M = np.einsum("...ji,...jk->...ik", R_a, R_b)
    c = np.clip((np.trace(M, axis1=-2, axis2=-1) - 1.0) / 2.0, -1.0, 1.0)
    return np.degrees(np.arccos(c))


def mean_rotation(Rs: np.ndarray) -> np.ndarray:
    """Chordal L2 mean of rotations (n, 3, 3): the rotation closest to their sum."""
    U, _, Vt = np.linalg.svd(Rs.sum(axis=0))
    D = np.diag([1.0, 1.0, np.sign(np.linalg.det(U @ Vt))])
    return U @ D @ Vt


def robust_mean_pose(Ts: np.ndarray) -> np.ndarray:
    """Robust mean of rigid transforms (n, 4, 4): rotations farther than 3 median deviations
    (and 2 degrees) from the chordal mean, and their translations, are left out."""
    R = mean_rotation(Ts[:, :3, :3])
    ang = rotation_angle_deg(R[None], Ts[:, :3, :3])
    keep = ang <= max(3.0 * np.median(ang), 2.0)
    R = mean_rotation(Ts[keep, :3, :3])
    t = np.median(Ts[keep, :3, 3], axis=0)
    out = np.eye(4)
    out[:3, :3] = R
    out[:3, 3] = t
    return out


#: Two views of one instant agree on a camera pair's relative pose within these bounds (a
#: pair whose shared frames mostly disagree was not filming the same instants).
AGREE_DEG = 3.0
AGREE_M = 0.05


@dataclass(frozen=True)
class PoseGraph:
    """Who saw the board with whom.

    Attributes:
        names: camera names in rig order.
        shared: (C, C) int, number of frames both cameras saw the board in.
        consistent: (C, C) int, how many of those frames agree on the pair's relative pose
            (equal to ``shared`` when poses were not given).
    """

    names: tuple[str, ...]
    shared: np.ndarray
    consistent: np.ndarray | None = None

    @property
    def weights(self) -> np.ndarray:
        return self.shared if self.consistent is None else self.consistent


def view_graph(
    names: Sequence[str],
    frames: Sequence[np.ndarray],
    T_cam_from_board: Sequence[np.ndarray] | None = None,
) -> PoseGraph:
    """The graph of shared board views; ``frames[c]`` are the frame numbers camera ``c`` has a
    usable board pose in, ``T_cam_from_board[c]`` (V_c, 4, 4) those poses.

    With poses, a pair's frames count as consistent when their relative poses
    ``T_b_from_board @ inv(T_a_from_board)`` agree with the pair's robust mean (within
    :data:`AGREE_DEG` and :data:`AGREE_M`); a pair keeps its link only when most of its shared
    frames are consistent, so cameras that did not film the same instants (unsynchronised
    videos, image folders of separate sessions) are not linked.
    """
    C = len(names)
    shared = np.zeros((C, C), dtype=int)
    consistent = np.zeros((C, C), dtype=int)
    sets = [set(np.asarray(f).tolist()) for f in frames]
    lookup = None if T_cam_from_board is None else [
        dict(zip(np.asarray(f).tolist(), T)) for f, T in zip(frames, T_cam_from_board)
    ]
    for a in range(C):
        for b in range(a + 1, C):
            common = sorted(sets[a] & sets[b])
            shared[a, b] = shared[b, a] = len(common)
            if lookup is None or not common:
                consistent[a, b] = consistent[b, a] = len(common)
                continue
            rel = np.stack([lookup[b][f] @ invert_pose(lookup[a][f]) for f in common])
            n = _agreeing(rel)
            consistent[a, b] = consistent[b, a] = n if 2 * n > len(common) else 0
    return PoseGraph(tuple(names), shared, consistent)


def _agreeing(rel: np.ndarray) -> int:
    """How many relative poses (n, 4, 4) agree with their robust mean."""
    mean = robust_mean_pose(rel)
    ang = rotation_angle_deg(mean[None, :3, :3], rel[:, :3, :3])
    dist = np.linalg.norm(rel[:, :3, 3] - mean[:3, 3], axis=1)
    tol_m = AGREE_M + 0.02 * np.linalg.norm(mean[:3, 3])
    return int(np.sum((ang <= AGREE_DEG) & (dist <= tol_m)))


def spanning_tree(graph: PoseGraph, root: int = 0, min_shared: int = 1) -> list[tuple[int, int]]:
    """Edges ``(placed, new)`` of the maximum spanning tree from ``root`` (Prim), in the order
    cameras are placed.

    Raises:
        DisconnectedCamerasError: naming the cameras not reachable from ``root`` through links
            of at least ``min_shared`` shared (and consistent) frames.
    """
    C = len(graph.names)
    W = np.where(graph.weights >= min_shared, graph.weights, 0)
    placed = [root]
    edges = []
    while len(placed) < C:
        best = (0, -1, -1)
        for a in placed:
            for b in range(C):
                if b not in placed and W[a, b] > best[0]:
                    best = (W[a, b], a, b)
        if best[1] < 0:
            missing = tuple(graph.names[i] for i in range(C) if i not in placed)
            connected = tuple(graph.names[i] for i in sorted(placed))
            parts = []
            for i in range(C):
                if i in placed:
                    continue
                n = int(graph.shared[i, placed].max())
                k = int(graph.weights[i, placed].max())
                parts.append(f"{graph.names[i]}: {n}" if k == n else
                             f"{graph.names[i]}: {n}, of which {k} agree on the relative pose "
                             "(not filmed at the same instants?)")
            raise DisconnectedCamerasError(
                missing, connected,
                f"frames shared with the connected cameras ({'; '.join(parts)}; at least "
                f"{min_shared} needed)",
            )
        edges.append((best[1], best[2]))
        placed.append(best[2])
    return edges


def initial_extrinsics(
    names: Sequence[str],
    frames: Sequence[np.ndarray],
    T_cam_from_board: Sequence[np.ndarray],
    min_shared: int = 1,
) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """First guess of every camera's pose and of the board pose in every frame.

    Args:
        names: camera names in rig order (the first defines the world frame).
        frames: per camera, (V_c,) frame numbers of its views with a board pose.
        T_cam_from_board: per camera, (V_c, 4, 4) board poses of those views.
        min_shared: fewest shared frames that link two cameras.

    Returns:
        ``(T_cam_from_world (C, 4, 4), {frame: T_world_from_board (4, 4)})``; the board pose of
        a frame comes from the camera that saw it closest (the smallest depth).
    """
    C = len(names)
    graph = view_graph(names, frames, T_cam_from_board)
    edges = spanning_tree(graph, 0, min_shared)
    lookup = [dict(zip(np.asarray(f).tolist(), T)) for f, T in zip(frames, T_cam_from_board)]
    T_cw = np.full((C, 4, 4), np.nan)
    T_cw[0] = np.eye(4)
    for a, b in edges:
        common = sorted(set(lookup[a]) & set(lookup[b]))
        rel = np.stack([lookup[b][f] @ invert_pose(lookup[a][f]) for f in common])  # b_from_a
        T_cw[b] = robust_mean_pose(rel) @ T_cw[a]
        log.debug("placed %s from %s over %d shared frames", names[b], names[a], len(common))
    boards: dict[int, np.ndarray] = {}
    depth: dict[int, float] = {}
    for c in range(C):
        T_wc = invert_pose(T_cw[c])
        for f, T in lookup[c].items():
            d = float(T[2, 3])
            if f not in boards or d < depth[f]:
                boards[f] = T_wc @ T
                depth[f] = d
    return T_cw, boards
