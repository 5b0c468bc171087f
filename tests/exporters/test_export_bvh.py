"""BVH: write -> read round trips, a hand-written file, malformed files, atomic writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import exporters.bvh_format
from exporters import (
    ExportError,
    FormatError,
    Motion,
    MotionError,
    Skeleton,
    forward_kinematics,
    read_bvh,
    rotation_yup_to_zup,
    write_bvh,
)
from exporters.bvh import bvh_to_skeleton_motion
from exporters.bvh_format import parse_bvh
from exporters.euler import EULER_ORDERS, euler_to_matrix

ROUND_TRIP_M = 1e-6


def fk(skeleton: Skeleton, motion: Motion) -> np.ndarray:
    return forward_kinematics(skeleton, motion.rotations, motion.root_translation, motion.translations)[0]


def by_name(skeleton: Skeleton, positions: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """(F, J, 3) positions with joints reordered to ``names``."""
    return positions[:, [skeleton.index(name) for name in names]]


# ----------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("euler_order", EULER_ORDERS)
@pytest.mark.parametrize("up", ["y", "z"])
@pytest.mark.parametrize("units", ["cm", "m"])
def test_write_read_round_trip_keeps_fk_positions(
    tmp_path: Path, humanoid: Skeleton, random_motion, euler_order: str, up: str, units: str
) -> None:
    motion = random_motion(humanoid, 40, fps=30.0)
    path = tmp_path / "take.bvh"
    write_bvh(path, humanoid, motion, up=up, units=units, euler_order=euler_order)
    skeleton, read = read_bvh(path, up=up, units=units)

    assert skeleton.joint_names == humanoid.joint_names
    np.testing.assert_array_equal(skeleton.parents, humanoid.parents)
    np.testing.assert_allclose(skeleton.offsets, humanoid.offsets, atol=1e-8)
    assert read.num_frames == 40
    assert read.fps == pytest.approx(30.0, rel=1e-10)
    assert np.abs(fk(skeleton, read) - fk(humanoid, motion)).max() < ROUND_TRIP_M


def test_round_trip_of_a_skeleton_not_in_depth_first_order(tmp_path: Path, random_motion) -> None:
    # joint 3 is a child of 1, written after 2 (a child of 0) -> the file order is 0 1 3 2
    offsets = [[0, 0, 1], [0, 0, 0.3], [0.2, 0, 0], [0, 0.1, 0.2]]
    skeleton = Skeleton(("root", "a", "b", "a_tip"), [-1, 0, 0, 1], offsets)
    motion = random_motion(skeleton, 5)
    write_bvh(tmp_path / "x.bvh", skeleton, motion)
    read_skeleton, read = read_bvh(tmp_path / "x.bvh")
    assert read_skeleton.joint_names == ("root", "a", "a_tip", "b")
    expected = by_name(skeleton, fk(skeleton, motion), read_skeleton.joint_names)
    assert np.abs(fk(read_skeleton, read) - expected).max() < ROUND_TRIP_M


@pytest.mark.parametrize("fps", [24.0, 29.97, 30.0, 60.0, 120.0, 1000.0])
def test_fps_and_frame_count_are_preserved(tmp_path: Path, chain: Skeleton, random_motion, fps: float) -> None:
    write_bvh(tmp_path / "t.bvh", chain, random_motion(chain, 3, fps=fps))
    _, motion = read_bvh(tmp_path / "t.bvh")
    assert motion.num_frames == 3
    assert motion.fps == pytest.approx(fps, rel=1e-9)


def test_zero_frames_round_trip(tmp_path: Path, chain: Skeleton) -> None:
    write_bvh(tmp_path / "empty.bvh", chain, Motion(np.zeros((0, 6, 3, 3)), np.zeros((0, 3)), 30.0))
    skeleton, motion = read_bvh(tmp_path / "empty.bvh")
    assert motion.num_frames == 0 and skeleton.num_joints == 6


@pytest.mark.parametrize("euler_order", EULER_ORDERS)
@pytest.mark.parametrize("middle_deg", [90.0, -90.0, 90.0 - 1e-7, -90.0 + 1e-5, 89.9])
@pytest.mark.parametrize("up", ["y", "z"])
def test_gimbal_lock_still_round_trips_positions(
    tmp_path: Path, humanoid: Skeleton, random_motion, euler_order: str, middle_deg: float, up: str
) -> None:
    motion = random_motion(humanoid, 6)
    # local rotations that sit (nearly) in gimbal lock in the file's axes and the written order
    angles = np.array([[37.0, middle_deg, -121.0], [-170.0, middle_deg, 15.0], [0.0, middle_deg, 0.0]])
    locked = euler_to_matrix(angles, euler_order)  # in the file's axes
    if up == "y":  # the internal rotations that become ``locked`` once written Y up
        locked = rotation_yup_to_zup(locked)
    rotations = np.array(motion.rotations)
    rotations[:3, :] = locked[:, None]
    motion = Motion(rotations, motion.root_translation, motion.fps)
    write_bvh(tmp_path / "lock.bvh", humanoid, motion, up=up, euler_order=euler_order)
    skeleton, read = read_bvh(tmp_path / "lock.bvh", up=up)
    assert np.abs(fk(skeleton, read) - fk(humanoid, motion)).max() < ROUND_TRIP_M
    np.testing.assert_allclose(read.rotations, motion.rotations, atol=1e-7)


# ----------------------------------------------------------------------------- file content


def test_written_file_layout(tmp_path: Path, humanoid: Skeleton, random_motion) -> None:
    path = tmp_path / "layout.bvh"
    write_bvh(path, humanoid, random_motion(humanoid, 2, fps=30.0), units="cm")
    text = path.read_text()
    lines = text.splitlines()
    assert lines[:3] == ["HIERARCHY", "ROOT pelvis", "{"]
    assert lines[3] == "\tOFFSET 0.000000 95.000000 0.000000"  # rest root position, Y up, cm
    assert lines[4] == "\tCHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation"
    assert "\t\tCHANNELS 3 Zrotation Xrotation Yrotation" in lines
    assert text.count("End Site") == 5  # head, wrists, ankles
    head_end = lines[lines.index("\t\t\t\tJOINT head") + 4 : lines.index("\t\t\t\tJOINT head") + 8]
    assert head_end[0].strip() == "End Site"
    np.testing.assert_allclose([float(v) for v in head_end[2].split()[1:]], 0.1 * 100 * np.array([0.0, 0.12, 0.02]))
    motion_at = lines.index("MOTION")
    assert lines[motion_at + 1 : motion_at + 3] == ["Frames: 2", "Frame Time: 0.033333333333"]
    assert len(lines[motion_at + 3].split()) == 6 + 3 * 16
    assert len(lines) == motion_at + 5 and "\r" not in text


def test_writing_is_deterministic(tmp_path: Path, humanoid: Skeleton, random_motion) -> None:
    motion = random_motion(humanoid, 4)
    write_bvh(tmp_path / "a.bvh", humanoid, motion)
    write_bvh(tmp_path / "b.bvh", humanoid, motion)
    assert (tmp_path / "a.bvh").read_bytes() == (tmp_path / "b.bvh").read_bytes()


# ----------------------------------------------------------------------------- a hand-written file

HAND_WRITTEN = """HIERARCHY
ROOT Hips
{
\tOFFSET 0 0 1
\tCHANNELS 6 Xposition Yposition Zposition Xrotation Yrotation Zrotation
\tJOINT Chest
\t{
\t\tOFFSET 0 0 0.5
\t\tCHANNELS 3 Yrotation Xrotation Zrotation
\t\tJOINT Head
\t\t{
\t\t\tOFFSET 0 0 0.3
\t\t\tCHANNELS 3 Zrotation Xrotation Yrotation
\t\t\tEnd Site
\t\t\t{
\t\t\t\tOFFSET 0 0 0.1
\t\t\t}
\t\t}
\t}
\tJOINT Leg
\t{
\t\tOFFSET 0.1 0 -0.5
\t\tCHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation
\t\tEnd Site
\t\t{
\t\t\tOFFSET 0 0 -0.4
\t\t}
\t}
}
MOTION
Frames: 2
Frame Time: 0.04
0 0 1 0 0 0 0 0 0 0 0 0 0.1 0 -0.5 0 0 0
1 2 1 0 0 90 90 90 0 0 0 0 0.1 0 -0.5 0 0 0
"""


def test_hand_written_file_with_mixed_channel_orders_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "hand.bvh"
    path.write_bytes(HAND_WRITTEN.replace("\n", "\r\n").encode())
    skeleton, motion = read_bvh(path, up="z", units="m")
    assert list(motion.translations) == [3]  # Leg's position channels: its offset from Hips per frame
    np.testing.assert_allclose(motion.translations[3], [[0.1, 0, -0.5]] * 2)
    assert skeleton.joint_names == ("Hips", "Chest", "Head", "Leg")
    np.testing.assert_array_equal(skeleton.parents, [-1, 0, 1, 0])
    assert motion.fps == pytest.approx(25.0)
    positions = fk(skeleton, motion)
    np.testing.assert_allclose(positions[0], [[0, 0, 1], [0, 0, 1.5], [0, 0, 1.8], [0.1, 0, 0.5]], atol=1e-12)
    # frame 1: root at (1, 2, 1) turned Rz90: chest (1, 2, 1.5), leg (1, 2.1, 0.5);
    # chest channels "Y X Z" = (90, 90, 0) -> Rz90 @ Ry90 @ Rx90 @ (0, 0, 0.3) = (0.3, 0, 0)
    np.testing.assert_allclose(positions[1], [[1, 2, 1], [1, 2, 1.5], [1.3, 2, 1.5], [1, 2.1, 0.5]], atol=1e-12)


def test_hand_written_file_read_as_y_up_centimetres() -> None:
    skeleton, motion = bvh_to_skeleton_motion(parse_bvh(HAND_WRITTEN), up="y", units="cm")
    # file (x, y, z) cm, Y up -> internal (x, -z, y) m
    np.testing.assert_allclose(skeleton.offsets[1], [0, -0.005, 0])
    np.testing.assert_allclose(motion.root_translation[1], [0.01, -0.01, 0.02])


# ----------------------------------------------------------------------------- malformed files


def break_file(tmp_path: Path, old: str, new: str) -> Path:
    assert old in HAND_WRITTEN
    path = tmp_path / "broken.bvh"
    path.write_text(HAND_WRITTEN.replace(old, new, 1))
    return path


@pytest.mark.parametrize(
    ("old", "new", "line", "match"),
    [
        # truncated MOTION block: two frames announced, one given (the file ends at line 33)
        ("1 2 1 0 0 90 90 90 0 0 0 0 0.1 0 -0.5 0 0 0\n", "", 33, r"expected 2 frame lines.*found 1"),
        # wrong channel count: 3 announced, 2 names, then a keyword (line 10)
        ("CHANNELS 3 Yrotation Xrotation Zrotation", "CHANNELS 3 Yrotation Xrotation", 10, r"3 channel names.*found 'JOINT'"),
        # a frame line with a missing value
        ("1 2 1 0 0 90 90 90 0 0 0 0 0.1 0 -0.5 0 0 0", "1 2 1 0 0 90 90 90 0 0 0 0 0.1 0 -0.5 0 0", 34, r"18 values.*found 17"),
        # non-numeric values
        ("1 2 1 0 0 90 90 90", "1 2 1 0 0 ninety 90 90", 34, r"finite numbers.*found 'ninety'"),
        ("1 2 1 0 0 90 90 90", "1 2 1 0 0 nan 90 90", 34, r"finite numbers.*found 'nan'"),
        ("OFFSET 0 0 0.5", "OFFSET 0 zero 0.5", 8, r"OFFSET value y.*found 'zero'"),
        # header problems
        ("Frame Time: 0.04", "Frame Time: 0", 32, r"frame time in seconds > 0"),
        ("Frames: 2", "Frames: two", 31, r"frame count"),
        ("Frames: 2", "Frame: 2", 31, r"'Frames: <count>'"),
        ("CHANNELS 6 Xposition Yposition Zposition Xrotation", "CHANNELS 6 Xposition Yposition Wposition Xrotation", 5, r"'Wposition'"),
        # a missing '}' (the End Site's): the hierarchy ends before the root is closed
        ("\t\t\t\tOFFSET 0 0 0.1\n\t\t\t}\n", "\t\t\t\tOFFSET 0 0 0.1\n", 29, r"'}' closing joint 'Hips'.*end of the hierarchy"),
        ("JOINT Leg", "JOINT Chest", 20, r"a joint name not used before"),
        # no MOTION section at all
        ("MOTION\n", "", 33, r"'MOTION' line.*end of the file"),
    ],
)
def test_malformed_file_raises_format_error_naming_the_line(
    tmp_path: Path, old: str, new: str, line: int, match: str
) -> None:
    path = break_file(tmp_path, old, new)
    with pytest.raises(FormatError, match=match) as info:
        read_bvh(path, up="z", units="m")
    message = str(info.value)
    assert str(path) in message
    assert f"line {line}" in message


def test_format_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"<bvh>, line 1: expected 'HIERARCHY'"):
        parse_bvh("ROOT x\nMOTION\n")


def test_read_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_bvh(tmp_path / "none.bvh")


# ----------------------------------------------------------------------------- writing failures


def test_failed_write_leaves_no_file(tmp_path: Path, humanoid: Skeleton, random_motion, monkeypatch) -> None:
    def broken_rows(values, decimals):
        yield "1 2 3"
        raise OSError("disk full")

    monkeypatch.setattr(exporters.bvh_format, "_motion_rows", broken_rows)
    with pytest.raises(OSError, match="disk full"):
        write_bvh(tmp_path / "take.bvh", humanoid, random_motion(humanoid, 3))
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_the_previous_file(tmp_path: Path, humanoid: Skeleton, random_motion, monkeypatch) -> None:
    path = tmp_path / "take.bvh"
    write_bvh(path, humanoid, random_motion(humanoid, 3))
    before = path.read_bytes()

    def broken_rows(values, decimals):
        raise OSError("disk full")
        yield ""

    monkeypatch.setattr(exporters.bvh_format, "_motion_rows", broken_rows)
    with pytest.raises(OSError):
        write_bvh(path, humanoid, random_motion(humanoid, 3))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["take.bvh"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"up": "x"}, r"up: expected one of \['y', 'z'\], found 'x'"),
        ({"units": "ft"}, r"units: expected one of"),
        ({"euler_order": "XYX"}, r"euler_order: expected one of"),
    ],
)
def test_bad_write_arguments(tmp_path: Path, chain: Skeleton, random_motion, kwargs, match) -> None:
    with pytest.raises(ExportError, match=match):
        write_bvh(tmp_path / "x.bvh", chain, random_motion(chain, 2), **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_names_bvh_cannot_hold_are_rejected(tmp_path: Path, random_motion) -> None:
    skeleton = Skeleton(("root", "left hand"), [-1, 0], [[0, 0, 1], [0.1, 0, 0]])
    with pytest.raises(ExportError, match=r"joint 1 name 'left hand'"):
        write_bvh(tmp_path / "x.bvh", skeleton, random_motion(skeleton, 2))
    assert list(tmp_path.iterdir()) == []


def test_motion_for_another_skeleton_is_rejected(
    tmp_path: Path, chain: Skeleton, humanoid: Skeleton, random_motion
) -> None:
    with pytest.raises(MotionError, match="expected 6 joints"):
        write_bvh(tmp_path / "x.bvh", chain, random_motion(humanoid, 2))
