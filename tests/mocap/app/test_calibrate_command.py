"""``mocap calibrate SESSION`` end to end on rendered videos and image folders, the settings
table, detection from videos and folders (blur rejection), and the messages of bad input."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from calibration import BoardNotFoundError, Camera, Rig, VideoError
from calibration.boards import board_from_dict
from calibration.boards import detect_source, find_camera_sources, require_board
from calibration.render import RenderStyle, random_board_poses, render_take, write_video
from mocap.app.cli import main

BIG = dict(kind="charuco", squares_x=5, squares_y=7, square_length_m=0.15,
           marker_length_m=0.11, dictionary="DICT_4X4_50")
BOARD_TOML = """[calibration.board]
kind = "charuco"
squares_x = 5
squares_y = 7
square_length_m = 0.15
marker_length_m = 0.11
dictionary = "DICT_4X4_50"
"""


def small_rig() -> Rig:
    """Two 480 x 360 cameras 2.4 m high, looking down at (0, 0, 0.5) m from 2.2 m away."""
    K = np.array([[380.0, 0, 239.5], [0, 380.0, 179.5], [0, 0, 1]])
    cams = [Camera.look_at(f"cam{i + 1}", (480, 360), K, [-0.1, 0.02, 0, 0, 0],
                           (2.2 * np.sin(a), -2.2 * np.cos(a), 2.4), (0.0, 0.0, 0.5))
            for i, a in enumerate(np.radians([-25.0, 25.0]))]
    return Rig(tuple(cams))


@pytest.fixture(scope="module")
def small_take():
    rig = small_rig()
    spec = board_from_dict(dict(BIG))
    poses = random_board_poses(rig, spec, 12, (0.0, 0.0, 1.0), (0.4, 0.3, 0.3), tilt_deg=35,
                               rng=np.random.default_rng(5))
    sharp = RenderStyle(noise_std=1.5, supersample=2)
    take = render_take(rig, spec, poses, sharp, seed=1)
    floor = np.diag([1.0, -1.0, -1.0, 1.0])
    floor[:3, 3] = (-0.35, 0.5, 0.0)
    floor_take = render_take(rig, spec, floor[None], sharp, seed=2)
    return rig, spec, take, floor_take


def make_session(root: Path, take, floor_take=None, videos=True, toml=BOARD_TOML) -> Path:
    cal = root / "calibration"
    cal.mkdir(parents=True)
    for c, name in enumerate(("cam1", "cam2")):
        frames = take.images[c]
        if videos:
            write_video(cal / f"{name}.avi", frames, fps=10)
        else:
            (cal / name).mkdir()
            for f, img in enumerate(frames):
                cv2.imwrite(str(cal / name / f"img{f}.png"), img)
        if floor_take is not None:
            (cal / "floor").mkdir(exist_ok=True)
            cv2.imwrite(str(cal / "floor" / f"{name}.png"), floor_take.images[c][0])
    (root / "session.toml").write_text(toml)
    return root


@pytest.mark.slow
def test_calibrate_command_writes_rig_and_report(tmp_path, small_take, capsys):
    rig, spec, take, floor_take = small_take
    session = make_session(tmp_path / "s", take, floor_take)
    assert main(["calibrate", str(session)]) == 0
    err = capsys.readouterr()
    assert "detecting the board: cam1" in err.err and "bundle adjustment" in err.err
    out = Rig.load(session / "calibration.toml")
    assert out.names == ("cam1", "cam2") and out.metadata.adjusted
    # World frame from the board on the floor: its origin is (-0.35, 0.5, 0) in the truth.
    for a, b in zip(out, rig):
        assert np.linalg.norm(a.center - (b.center - [-0.35, 0.5, 0.0])) < 0.05
    report = json.loads((session / "out/calibration/report.json").read_text())
    assert report["units"] == "m" and "floor" in report["world_frame"]
    cams = report["cameras"]
    assert [c["name"] for c in cams] == ["cam1", "cam2"]
    assert all(c["reprojection_error_px"] < 0.5 and 0 < c["coverage_percent"] <= 100 for c in cams)
    assert all(c["blurred_views_dropped"] == 0 for c in cams)
    assert (session / "out/calibration/camera_poses.png").stat().st_size > 10_000
    assert "reprojection error" in (session / "out/calibration/report.txt").read_text()
    assert not list(session.glob(".*.tmp"))


def test_video_and_image_folder_give_the_same_views(tmp_path, small_take):
    _, spec, take, _ = small_take
    session = make_session(tmp_path / "s", take, videos=False)
    views = detect_source(session / "calibration" / "cam1", spec, "cam1")
    assert views.frames_read == 12 and len(views) >= 6
    write_video(tmp_path / "cam1.avi", take.images[0], fps=10)
    from_video = detect_source(tmp_path / "cam1.avi", spec, "cam1")
    np.testing.assert_array_equal(from_video.frames, views.frames)
    both = np.isfinite(views.xy) & np.isfinite(from_video.xy)
    diff = np.abs(views.xy[both] - from_video.xy[both])  # MJPG compression moves a few
    assert np.median(diff) < 0.1 and diff.max() < 1.5
    step2 = detect_source(tmp_path / "cam1.avi", spec, "cam1", frame_step=2)
    assert step2.frames_read == 6 and set(step2.frames.tolist()) <= set(range(0, 12, 2))


def test_blurred_views_are_dropped():
    from calibration.boards import detect_views

    K = np.array([[420.0, 0, 239.5], [0, 420.0, 179.5], [0, 0, 1]])
    rig = Rig((Camera("c", (480, 360), K, np.zeros(5), np.eye(3), np.zeros(3)),))
    spec = board_from_dict(dict(kind="checkerboard", squares_x=6, squares_y=8, square_length_m=0.06))
    poses = random_board_poses(rig, spec, 8, (0.0, 0.0, 1.0), (0.1, 0.05, 0.1), tilt_deg=25,
                               rng=np.random.default_rng(5))
    blurred = {(0, 2): RenderStyle(blur_sigma_px=2.5, noise_std=1.5),
               (0, 5): RenderStyle(blur_sigma_px=3.5, noise_std=1.5)}
    take = render_take(rig, spec, poses, RenderStyle(noise_std=1.5), styles=blurred)
    views = detect_views(enumerate(take.images[0]), spec, "c", "imgs")
    assert views.rejected_blurry == (2, 5)
    assert views.frames.tolist() == [0, 1, 3, 4, 6, 7]
    assert np.all(views.blur_px < 2.5)


def test_sources_of_a_calibration_folder(tmp_path):
    cal = tmp_path / "calibration"
    (cal / "cam10").mkdir(parents=True)
    cv2.imwrite(str(cal / "cam10" / "a.png"), np.zeros((8, 8), np.uint8))
    (cal / "cam2.mp4").write_bytes(b"")
    (cal / "notes.txt").write_text("x")
    assert list(find_camera_sources(cal)) == ["cam2", "cam10"]
    (cal / "cam2").mkdir()
    cv2.imwrite(str(cal / "cam2" / "a.png"), np.zeros((8, 8), np.uint8))
    with pytest.raises(VideoError, match=r"cam2\.mp4: expected one source for camera 'cam2', found .*cam2 too"):
        find_camera_sources(cal)
    with pytest.raises(VideoError, match=r"empty: expected a folder of calibration videos"):
        find_camera_sources(tmp_path / "empty")


def test_unreadable_video_is_named(tmp_path, capsys):
    bad = tmp_path / "cam1.mp4"
    bad.write_bytes(b"this is not a video")
    spec = board_from_dict(dict(BIG))
    with pytest.raises(VideoError, match=rf"{bad}: expected a video OpenCV can decode, found an unreadable file"):
        detect_source(bad, spec, "cam1")
    session = tmp_path / "s"
    (session / "calibration").mkdir(parents=True)
    (session / "calibration" / "cam1.mp4").write_bytes(b"garbage")
    (session / "session.toml").write_text(BOARD_TOML)
    assert main(["calibrate", str(session)]) == 2
    assert "cam1.mp4: expected a video OpenCV can decode" in capsys.readouterr().err
    assert not (session / "calibration.toml").exists()


def test_unreadable_image_is_named(tmp_path):
    folder = tmp_path / "cam1"
    folder.mkdir()
    (folder / "a.png").write_bytes(b"not a png")
    with pytest.raises(VideoError, match=r"a\.png: expected an image OpenCV can decode"):
        detect_source(folder, board_from_dict(dict(BIG)), "cam1")


def test_board_never_found_names_the_camera_and_the_right_spec(tmp_path, small_take, capsys):
    _, spec, take, _ = small_take
    wrong = BOARD_TOML.replace("DICT_4X4_50", "DICT_6X6_250")
    session = make_session(tmp_path / "s", take, videos=False, toml=wrong)
    assert main(["calibrate", str(session)]) == 2
    msg = capsys.readouterr().err.strip().splitlines()[-1]
    assert msg.startswith("error: camera 'cam1' (")
    assert "expected the board (charuco squares_x = 5, squares_y = 7, dictionary = 'DICT_6X6_250'" in msg
    assert "found it in 0" in msg
    assert "this spec detects it: charuco squares_x = 5, squares_y = 7, dictionary = 'DICT_4X4_50'" in msg
    assert not (session / "calibration.toml").exists()


def test_swapped_board_size_is_suggested(small_take):
    _, spec, take, _ = small_take
    from calibration.boards import detect_views

    wrong = spec.replace(squares_x=7, squares_y=5)
    views = detect_views(enumerate(take.images[0][:4]), wrong, "cam1", "imgs")
    with pytest.raises(BoardNotFoundError, match=r"camera 'cam1' \(imgs\): expected the board .* "
                       r"found it in 0; this spec detects it: charuco squares_x = 5, squares_y = 7"):
        require_board(views, wrong)


def test_settings_table_is_checked(tmp_path, capsys):
    from mocap.settings import load_settings

    session = tmp_path / "s"
    session.mkdir()
    (session / "session.toml").write_text(BOARD_TOML + "square_size = 3\n")
    assert main(["calibrate", str(session)]) == 2
    assert "unknown key 'square_size'" in capsys.readouterr().err
    (session / "session.toml").write_text(BOARD_TOML.replace("0.15", "150"))
    (session / "calibration").mkdir()
    assert main(["calibrate", str(session)]) == 2
    assert "square_length_m: expected metres (at most 2.0), found 150.0 (millimetres?)" in capsys.readouterr().err
    (session / "session.toml").write_text('[calibration]\nboard_file = "pose2sim_checkerboard_4x7"\n'
                                          'cameras = ["a", "b"]\nmax_blur_px = 3\n')
    s = load_settings(session / "session.toml").calibration
    assert s.board_file == "pose2sim_checkerboard_4x7" and s.cameras == ("a", "b")
    assert s.max_blur_px == 3.0 and s.board.kind == "charuco"


def test_too_few_views_for_intrinsics_are_named(small_take):
    from calibration import InsufficientDataError
    from calibration.boards import detect_views
    from calibration.intrinsics import calibrate_intrinsics

    _, spec, take, _ = small_take
    views = detect_views(enumerate(take.images[0][:2]), spec, "cam1", "two.avi")
    with pytest.raises(InsufficientDataError, match=r"camera 'cam1': expected at least 3 board views "
                       r"with >= 6 corners to estimate intrinsics \(two\.avi\), found 2"):
        calibrate_intrinsics(views, spec)
    with pytest.raises(BoardNotFoundError, match=r"camera 'cam1' \(two\.avi\): expected the board .* "
                       r"in at least 3 of 2 frames, found it in 2$"):
        require_board(views, spec, 3)
