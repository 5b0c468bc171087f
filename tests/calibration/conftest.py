"""Fixtures of the calibration tests: lenses, synthetic rigs and scenes with known truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from calibration import Camera, Rig

REPO = Path(__file__).resolve().parents[2]
K_HD = np.array([[1000.0, 0.0, 959.5], [0.0, 1010.0, 539.5], [0.0, 0.0, 1.0]])

#: Wide-angle pinhole lenses, by number of OpenCV coefficients (k1, k2, p1, p2[, k3[, k4..k6]]).
PINHOLE_DISTS = {
    4: np.array([-0.30, 0.09, 0.0012, -0.0008]),
    5: np.array([-0.30, 0.09, 0.0012, -0.0008, -0.012]),
    8: np.array([-0.30, 0.09, 0.0012, -0.0008, -0.012, 0.02, 0.004, 0.001]),
}
FISHEYE_DIST = np.array([0.08, -0.02, 0.004, -0.0006])



def ring_rig(
    n: int = 4, radius_m: float = 4.0, height_m: float = 2.0, dist=None, model="pinhole"
) -> Rig:
    """``n`` cameras on a circle around the origin, all looking at (0, 0, 1) m."""
    dist = PINHOLE_DISTS[5] if dist is None else dist
    cams = []
    for i in range(n):
        a = 2 * np.pi * i / n
        eye = (radius_m * np.cos(a), radius_m * np.sin(a), height_m)
        cams.append(
            Camera.look_at(f"cam{i}", (1920, 1080), K_HD, dist, eye, (0.0, 0.0, 1.0), model=model)
        )
    return Rig(tuple(cams))


@pytest.fixture
def rig() -> Rig:
    return ring_rig()


@pytest.fixture
def make_rig():
    """The :func:`ring_rig` factory."""
    return ring_rig


@pytest.fixture
def pinhole_dists() -> dict[int, np.ndarray]:
    return PINHOLE_DISTS


@pytest.fixture
def fisheye_dist() -> np.ndarray:
    return FISHEYE_DIST


@pytest.fixture
def K() -> np.ndarray:
    return K_HD.copy()


@pytest.fixture
def cameras_equal():
    """The :func:`assert_cameras_equal` check."""
    return assert_cameras_equal


@pytest.fixture
def camera() -> Camera:
    """A pinhole camera 3 m from the origin with a wide-angle 5-coefficient lens."""
    return Camera.from_rvec(
        "front", (1920, 1080), K_HD, PINHOLE_DISTS[5], [0.1, -0.2, 0.05], [0.1, -0.2, 3.0]
    )


@pytest.fixture
def scene_points() -> np.ndarray:
    """(200, 3) world points, metres, in a 2 m box around (0, 0, 1)."""
    rng = np.random.default_rng(7)
    return rng.uniform(-1.0, 1.0, (200, 3)) + [0.0, 0.0, 1.0]


def assert_cameras_equal(a: Camera, b: Camera, atol: float = 0.0) -> None:
    assert a.name == b.name and a.size_wh == b.size_wh and a.model == b.model
    for field in ("K", "dist", "R_cam_from_world", "t_cam_from_world"):
        np.testing.assert_allclose(
            getattr(a, field), getattr(b, field), rtol=0, atol=atol, err_msg=field
        )


# ----------------------------------------------------------------------------- rendered boards
# A virtual 4-camera arc and a ChArUco board waved in front of it, rendered once per test run
# (distortion, blur, noise, contrast changes, occluded and partial views): the known truth of
# the board-calibration tests.

from calib_scenes import BOARD, arc_board_poses, arc_rig  # noqa: E402  (shared with tests)


@pytest.fixture(scope="session")
def board_scene():
    """The rendered arc: ``(rig, spec, take)``."""
    from calibration.boards import board_from_dict
    from calibration.render import RenderStyle, render_take

    rig = arc_rig()
    spec = board_from_dict(dict(BOARD))
    poses = arc_board_poses(rig, spec, 16, 6, seed=1)
    style = RenderStyle(blur_sigma_px=0.6, noise_std=2.0, contrast=(0.6, 1.0))
    occluded = {(c, f): RenderStyle(blur_sigma_px=0.6, noise_std=2.0, occluders=1)
                for c in range(len(rig)) for f in range(0, 16, 4)}
    take = render_take(rig, spec, poses, style, seed=3, styles=occluded)
    return rig, spec, take
