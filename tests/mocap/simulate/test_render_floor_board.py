"""The studio day's floor board (no Blender needed): the pose the renderer lays the board at
is one :mod:`calibration.world` reads as a board on the floor, printed face up, so the world
``mocap calibrate`` makes from it is the true one, shifted to the board's corner."""
from __future__ import annotations

import numpy as np

from calibration.boards import board_from_dict
from calibration.world import align_to_floor_board
from mocap.app.render_session import STUDIO_BOARD
from mocap.simulate import load_rig_template
from mocap.simulate.render import floor_board_pose


def test_the_floor_board_makes_the_true_world_shifted_to_its_corner():
    rig = load_rig_template("studio4")
    board = board_from_dict(dict(STUDIO_BOARD))
    pose = floor_board_pose(board, lift_m=0.002)
    w, h = board.size_m
    assert np.allclose(pose[:3, 2], [0, 0, -1])           # board z into the floor: face up
    aligned, _ = align_to_floor_board(rig, pose)
    for a, b in zip(aligned, rig):
        np.testing.assert_allclose(a.center, b.center + [w / 2, -h / 2, -0.002], atol=1e-9)
        np.testing.assert_allclose(a.R_cam_from_world, b.R_cam_from_world, atol=1e-9)
