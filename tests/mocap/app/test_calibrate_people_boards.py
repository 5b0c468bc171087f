"""``mocap calibrate SESSION --from-people`` with no calibration file and board images of each
camera in ``calibration/<camera>/`` (views of one camera at a time, never shared: enough for
the intrinsics, not for the poses): each camera's intrinsics from its own board views, every
pose from a person walking through the virtual studio whose true cameras are known."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from calibration import Camera, Rig
from calibration.boards import board_from_dict
from calibration.render import RenderStyle, random_board_poses, render_take
from calibration.world import camera_centers, similarity_from_points
from mocap.app.cli import main
from mocap.app.studio import write_session
from mocap.simulate import Actor, load_rig_template, simulate_take

def small_studio() -> Rig:
    """studio4's cameras at a third of their resolution (640 x 360: board images render fast)."""
    cams = []
    for cam in load_rig_template("studio4"):
        K = np.diag([1 / 3, 1 / 3, 1.0]) @ cam.K
        cams.append(Camera(cam.name, (640, 360), K, cam.dist, cam.R_cam_from_world,
                           cam.t_cam_from_world))
    return Rig(tuple(cams))


STUDIO = small_studio()
BOARD = dict(kind="charuco", squares_x=5, squares_y=7, square_length_m=0.08,
             marker_length_m=0.06, dictionary="DICT_4X4_50")


def write_board_images(root: Path, rig: Rig, views: int = 12) -> None:
    """``calibration/<camera>/view<i>.png``: the board waved in front of each camera alone,
    about 1.5 m away (views no other camera shares)."""
    spec = board_from_dict(dict(BOARD))
    for c, cam in enumerate(rig):
        one = Rig((cam,))
        target = cam.center + 1.5 * cam.R_cam_from_world[2]            # on the optical axis
        poses = random_board_poses(one, spec, views, target, (0.5, 0.3, 0.3), tilt_deg=30,
                                   rng=np.random.default_rng(c))
        take = render_take(one, spec, poses, RenderStyle(supersample=1, noise_std=1.0), seed=c)
        folder = root / "calibration" / cam.name
        folder.mkdir(parents=True)
        for i, img in enumerate(take.images[0]):
            cv2.imwrite(str(folder / f"view{i}.png"), img)


@pytest.fixture(scope="module")
def board_session(tmp_path_factory):
    """A studio4 walk (10 s) with no calibration file, board images of each camera and the
    board in session.toml."""
    root = tmp_path_factory.mktemp("boards") / "s"
    take = simulate_take(STUDIO, [Actor("walk", 1.75, seed=1)], 300, 30.0, "body25", seed=1)
    write_session(root, STUDIO, take, settings={"calibration": {"person_height_m": 1.75,
                                                                "board": BOARD}})
    (root / "calibration.toml").unlink()
    write_board_images(root, STUDIO)
    return root


def fresh_copy(session: Path, root: Path) -> Path:
    """A copy of the session as the fixture made it (no calibration file, no ``out/``)."""
    shutil.copytree(session, root, ignore=shutil.ignore_patterns("calibration*.toml", "out"))
    return root


def test_intrinsics_from_each_cameras_board_images(board_session, tmp_path, capsys):
    root = fresh_copy(board_session, tmp_path / "s")
    assert main(["calibrate", str(root), "--from-people", "-q"]) == 0
    capsys.readouterr()
    rig = Rig.load(root / "calibration.toml")
    report = json.loads((root / "out/calibration/adjust_report.json").read_text())
    assert report["intrinsics_from"] == "board images"
    boards = report["from_people"]["intrinsics"]["cameras"]
    assert [c["name"] for c in boards] == list(STUDIO.names)
    assert all(c["views"] == 12 and c["error_px"] < 0.5 for c in boards)   # measured <= 0.22 px
    for cam, truth in zip(rig, STUDIO):
        assert cam.size_wh == truth.size_wh
        assert abs(cam.K[0, 0] / truth.K[0, 0] - 1) < 0.015     # focal: measured <= 0.6 %
        assert np.all(np.abs(cam.K[:2, 2] - truth.K[:2, 2]) < 10)     # measured <= 3.8 px
        assert abs(cam.dist[0] - truth.dist[0]) < 0.04          # k1: measured <= 0.019
    c, t = camera_centers(rig.cameras), camera_centers(STUDIO.cameras)
    T, s = similarity_from_points(c, t)
    moved = s * c @ T[:3, :3].T + T[:3, 3]
    assert np.max(np.linalg.norm(moved - t, axis=1)) < 0.04   # centres: measured 1.5 cm


def test_a_camera_without_board_images_is_named(board_session, tmp_path, capsys):
    root = fresh_copy(board_session, tmp_path / "s")
    shutil.rmtree(root / "calibration" / "cam3")
    assert main(["calibrate", str(root), "--from-people", "-q"]) != 0
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "cam3" in err and "no board images" in err, err
    assert not (root / "calibration.toml").exists()


def test_a_camera_whose_board_is_never_seen_is_named(board_session, tmp_path, capsys):
    root = fresh_copy(board_session, tmp_path / "s")
    for img in (root / "calibration" / "cam2").iterdir():
        cv2.imwrite(str(img), np.full((360, 640), 110, np.uint8))      # no board in any view
    assert main(["calibrate", str(root), "--from-people", "-q"]) != 0
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "cam2" in err, err
    assert not (root / "calibration.toml").exists()


def test_where_the_intrinsics_come_from(board_session, tmp_path):
    """The calibration file first, then board images, then estimated; a ``calibration/``
    folder holding no camera's board source (the floor's images, notes) is no board."""
    from mocap.app.calibrate_people import starting_intrinsics
    from mocap.app.session import Session

    root = fresh_copy(board_session, tmp_path / "s")
    rig, origin, boards = starting_intrinsics(Session(root), False, None)
    assert origin == "board images" and rig.names == STUDIO.names and len(boards) == 4
    assert starting_intrinsics(Session(root), True, (640, 360))[1] == "estimated"
    STUDIO.save(root / "calibration.toml")
    assert starting_intrinsics(Session(root), False, None)[1] == "calibration file"
    (root / "calibration.toml").unlink()
    for cam in STUDIO.names:
        shutil.rmtree(root / "calibration" / cam)
    (root / "calibration" / "floor").mkdir()
    cv2.imwrite(str(root / "calibration" / "floor" / "cam1.png"), np.zeros((360, 640), np.uint8))
    (root / "calibration" / "notes.txt").write_text("board on the floor")
    rig, origin, boards = starting_intrinsics(Session(root), False, (640, 360))
    assert origin == "estimated" and boards is None and rig.names == STUDIO.names
