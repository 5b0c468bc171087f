"""Synthetic calibration scenes shared by the calibration tests (imported by name: a
uniquely named module, unlike ``conftest``, which several test folders have)."""

from __future__ import annotations

import tomllib

import numpy as np

from calibration import Camera, Rig
from calibration.boards import boards_dir

#: The shipped studio board (rigs/boards/charuco_5x7_4x4_50.toml) as a settings table.
BOARD = {k: v for k, v in tomllib.loads(
    (boards_dir() / "charuco_5x7_4x4_50.toml").read_text()).items() if k != "description"}
ARC_DISTS = (
    np.array([-0.25, 0.08, 0.001, -0.0005, -0.01]),
    np.array([-0.20, 0.05, 0.0, 0.0005, 0.0]),
    np.array([-0.22, 0.06, -0.001, 0.0, -0.005]),
    np.array([-0.18, 0.03, 0.0005, 0.0005, 0.0]),
)


def arc_rig(n: int = 4, size_wh=(640, 480), f_px: float = 600.0) -> Rig:
    """``n`` cameras on a 90-degree arc of radius 2.5 m, 1.6 m high, aimed at (0, 0, 1) m;
    focal lengths, principal points and lenses differ from camera to camera."""
    w, h = size_wh
    cams = []
    for i, a in enumerate(np.radians(np.linspace(-45.0, 45.0, n))):
        K = np.array([[f_px + 10 * i, 0.0, (w - 1) / 2 + 3 * i],
                      [0.0, f_px + 10 * i + 2, (h - 1) / 2 - 2 * i], [0.0, 0.0, 1.0]])
        eye = (2.5 * np.sin(a), -2.5 * np.cos(a), 1.6)
        cams.append(Camera.look_at(f"cam{i + 1}", size_wh, K, ARC_DISTS[i % 4], eye, (0.0, 0.0, 1.0)))
    return Rig(tuple(cams))


def arc_board_poses(rig: Rig, spec, n_shared: int, n_close: int, seed: int) -> np.ndarray:
    """Board poses: ``n_shared`` facing the whole arc, then ``n_close`` close to each camera
    (tilted, reaching the image corners: what pins down each lens)."""
    from calibration.render import random_board_poses

    rng = np.random.default_rng(seed)
    poses = [random_board_poses(rig, spec, n_shared, (0.0, 0.0, 1.0), (0.5, 0.3, 0.3),
                                tilt_deg=30, rng=rng)]
    for cam in rig:
        target = cam.center + 1.3 * cam.R_cam_from_world[2]
        poses.append(random_board_poses(Rig((cam,)), spec, n_close, target, (0.35, 0.25, 0.1),
                                        tilt_deg=45, rng=rng))
    return np.concatenate(poses)


#: A large board (a floor mat, 1.25 x 1.75 m) and where it lies: face up on the floor, origin
#: at FLOOR_ORIGIN, x along world X (the floor frame it defines is the world moved by it).
FLOOR_BOARD = dict(BOARD, square_length_m=0.25, marker_length_m=0.19)
FLOOR_ORIGIN = np.array([-0.6, 0.9, 0.0])


def floor_board_pose() -> np.ndarray:
    """(4, 4) ``T_world_from_board`` of the floor mat."""
    T = np.diag([1.0, -1.0, -1.0, 1.0])
    T[:3, 3] = FLOOR_ORIGIN
    return T


