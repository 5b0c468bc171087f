"""Calibration files: anipose and Pose2Sim TOML round trips, aniposelib, malformed input."""

from __future__ import annotations

import logging
import re

import numpy as np
import pytest
import tomli_w
import tomllib

from calibration import (
    CalibrationError,
    CalibrationFileError,
    CameraError,
    Rig,
    RigMetadata,
)
from calibration.io.formats import anipose_document

# Written the way Pose2Sim's toml_write writes (spacing included), with our own numbers.
POSE2SIM_TEXT = """\
[int_cam1_img]
name = "int_cam1_img"
size = [ 1920.0, 1080.0]
matrix = [ [ 1400.5, 0.0, 961.25], [ 0.0, 1401.75, 538.5], [ 0.0, 0.0, 1.0]]
distortions = [ -0.04, 0.02, 0.0003, -0.0002]
rotation = [ 1.2, -0.3, 0.4]
translation = [ 0.25, 0.9, 3.5]
fisheye = false

[int_cam2_img]
name = "int_cam2_img"
size = [ 1920.0, 1080.0]
matrix = [ [ 1390.0, 0.0, 955.0], [ 0.0, 1391.0, 541.0], [ 0.0, 0.0, 1.0]]
distortions = [ -0.05, 0.03, 0.0, 0.0001]
rotation = [ 1.1, 0.8, -0.5]
translation = [ -0.4, 0.7, 3.9]
fisheye = false

[metadata]
adjusted = false
error = [ 0.41, 0.52]
"""


@pytest.fixture
def mixed_rig(make_rig, pinhole_dists, fisheye_dist) -> Rig:
    """Four cameras: 4, 5 and 8-coefficient pinhole lenses and a fisheye, in a ring."""
    base = make_rig(4)
    cams = (
        base[0].replace(dist=pinhole_dists[4]),
        base[1],
        base[2].replace(dist=pinhole_dists[8], name="wide"),
        base[3].replace(dist=fisheye_dist, model="fisheye", name="fish"),
    )
    return Rig(cams, RigMetadata(adjusted=True, error_px=0.31))


def _assert_rigs_match(a: Rig, b: Rig, cameras_equal, atol=1e-12):
    assert a.names == b.names and a.metadata == b.metadata
    for ca, cb in zip(a, b):
        cameras_equal(ca, cb, atol=atol)


# ----------------------------------------------------------------------------- anipose


def test_anipose_round_trip(mixed_rig, tmp_path, cameras_equal):
    path = tmp_path / "calibration.toml"
    mixed_rig.save(path)
    loaded = Rig.load(path)
    _assert_rigs_match(loaded, mixed_rig, cameras_equal)  # R via Rodrigues: 1e-16 off
    again = tmp_path / "again.toml"
    loaded.save(again)
    assert again.read_text() == path.read_text()  # reading and writing keeps every digit
    assert Rig.load(again) == loaded


def test_anipose_layout(mixed_rig, tmp_path):
    path = tmp_path / "calibration.toml"
    mixed_rig.save(path)
    doc = tomllib.loads(path.read_text())
    assert list(doc) == ["cam_0", "cam_1", "cam_2", "cam_3", "metadata"]
    assert doc["metadata"] == {"adjusted": True, "error": 0.31, "units": "m"}
    cam = doc["cam_3"]
    assert cam["name"] == "fish" and cam["size"] == [1920, 1080] and cam["fisheye"] is True
    assert len(cam["distortions"]) == 4 and np.shape(cam["matrix"]) == (3, 3)
    np.testing.assert_allclose(cam["rotation"], mixed_rig[3].rvec)
    np.testing.assert_allclose(cam["translation"], mixed_rig[3].t_cam_from_world)


def test_aniposelib_loads_our_file_and_projects_the_same(mixed_rig, tmp_path, scene_points):
    cameras = pytest.importorskip("aniposelib.cameras")
    path = tmp_path / "calibration.toml"
    mixed_rig.save(path)
    group = cameras.CameraGroup.load(str(path))
    assert group.get_names() == list(mixed_rig.names)
    theirs = group.project(scene_points)
    np.testing.assert_allclose(theirs, mixed_rig.project(scene_points), rtol=0, atol=1e-6)


def test_aniposelib_keeps_our_order_beyond_ten_cameras(make_rig, tmp_path):
    cameras = pytest.importorskip("aniposelib.cameras")
    rig = make_rig(12)
    path = tmp_path / "calibration.toml"
    rig.save(path)
    assert list(tomllib.loads(path.read_text()))[:3] == ["cam_00", "cam_01", "cam_02"]
    assert cameras.CameraGroup.load(str(path)).get_names() == list(rig.names)
    assert Rig.load(path).names == rig.names


def test_we_load_what_aniposelib_writes(mixed_rig, tmp_path, cameras_equal):
    cameras = pytest.importorskip("aniposelib.cameras")
    path = tmp_path / "ours.toml"
    mixed_rig.save(path)
    group = cameras.CameraGroup.load(str(path))
    theirs = tmp_path / "theirs.toml"
    group.dump(str(theirs))
    loaded = Rig.load(theirs)
    assert loaded.names == mixed_rig.names
    for a, b in zip(loaded, mixed_rig):
        cameras_equal(a, b, atol=1e-12)


# ----------------------------------------------------------------------------- Pose2Sim


def test_pose2sim_round_trip(mixed_rig, tmp_path, cameras_equal):
    rig = Rig(mixed_rig.cameras, RigMetadata(error_px_per_camera=(0.1, 0.2, 0.3, 0.4)))
    path = tmp_path / "Calib_board.toml"
    rig.save(path, fmt="pose2sim")
    doc = tomllib.loads(path.read_text())
    assert list(doc) == ["cam0", "cam1", "wide", "fish", "metadata"]
    assert doc["cam0"]["size"] == [1920.0, 1080.0] and isinstance(doc["cam0"]["size"][0], float)
    assert doc["metadata"] == {"adjusted": False, "error": [0.1, 0.2, 0.3, 0.4]}
    _assert_rigs_match(Rig.load(path), rig, cameras_equal)


def test_pose2sim_writer_output_loads(tmp_path):
    path = tmp_path / "Calib_scene.toml"
    path.write_text(POSE2SIM_TEXT)
    rig = Rig.load(path)
    assert rig.names == ("int_cam1_img", "int_cam2_img")
    assert rig[0].size_wh == (1920, 1080)
    assert rig.metadata == RigMetadata(
        adjusted=False, error_px=None, error_px_per_camera=(0.41, 0.52)
    )
    np.testing.assert_array_equal(rig[0].rvec, [1.2, -0.3, 0.4])
    np.testing.assert_array_equal(rig[1].dist, [-0.05, 0.03, 0.0, 0.0001])


def test_pose2sim_table_name_stands_in_for_a_missing_name(tmp_path):
    path = tmp_path / "Calib.toml"
    path.write_text(POSE2SIM_TEXT.replace('name = "int_cam2_img"\n', ""))
    assert Rig.load(path).names == ("int_cam1_img", "int_cam2_img")


def test_pose2sim_rejects_a_camera_named_metadata(camera, tmp_path):
    with pytest.raises(
        CameraError, match="camera 'metadata': name: expected a name other than 'metadata'"
    ):
        Rig((camera.replace(name="metadata"),)).save(tmp_path / "c.toml", fmt="pose2sim")


# ----------------------------------------------------------------------------- malformed files


def _edit(doc, table, key, value):
    if value is _DELETE:
        del doc[table][key]
    else:
        doc[table][key] = value


_DELETE = object()
ROT_SCALED = (np.eye(3) * 1.2).tolist()


@pytest.mark.parametrize(
    "table, key, value, expected",
    [
        (
            "cam_1",
            "matrix",
            _DELETE,
            r"expected key 'matrix', found keys \['name', 'size', 'distortions'",
        ),
        ("cam_0", "name", _DELETE, r"expected key 'name', found keys"),
        (
            "cam_1",
            "matrix",
            [[1.0, 0.0, 2.0], [0.0, 1.0, 2.0]],
            r"expected numbers of shape \(3, 3\), found .* \(shape \(2, 3\)\)",
        ),
        (
            "cam_1",
            "matrix",
            [[1.0, 0.0], [0.0, 1.0, 2.0], [0.0, 0.0, 1.0]],
            r"expected numbers of shape \(3, 3\), found \[\[1.0, 0.0\]",
        ),
        (
            "cam_1",
            "matrix",
            [[1000.0, 0.0, 2.0], [0.0, float("nan"), 2.0], [0.0, 0.0, 1.0]],
            r"expected finite numbers, found .*nan",
        ),
        (
            "cam_1",
            "matrix",
            [[1000.0, 0.0, 2.0], [0.0, "1000", 2.0], [0.0, 0.0, 1.0]],
            r"expected numbers of shape \(3, 3\), found .*'1000'",
        ),
        (
            "cam_1",
            "matrix",
            [[-1000.0, 0.0, 2.0], [0.0, 1000.0, 2.0], [0.0, 0.0, 1.0]],
            r"expected positive focal lengths, found fx=-1000.0",
        ),
        (
            "cam_1",
            "distortions",
            [0.1] * 6,
            r"expected 0 or 4 or 5 or 8 coefficients for model 'pinhole', found 6",
        ),
        ("cam_1", "distortions", 0.1, r"expected a list of numbers, found 0.1"),
        (
            "cam_1",
            "rotation",
            ROT_SCALED,
            r"expected a rotation matrix .* found max \|R R\^T - I\| = 0.44",
        ),
        (
            "cam_1",
            "rotation",
            [0.1, 0.2],
            r"expected a Rodrigues vector of 3 numbers \(or a 3x3 matrix\), found \[0.1, 0.2\]",
        ),
        (
            "cam_1",
            "translation",
            [0.0, float("inf"), 1.0],
            r"expected finite numbers, found \[0.0, inf, 1.0\]",
        ),
        (
            "cam_1",
            "translation",
            [True, 0.0, 1.0],
            r"expected numbers of shape \(3,\), found \[True, 0.0, 1.0\]",
        ),
        (
            "cam_1",
            "size",
            [1920],
            r"expected 2 positive whole numbers \[width, height\], found \[1920\]",
        ),
        ("cam_1", "size", [1920, "1080"], r"found \[1920, '1080'\]"),
        ("cam_1", "size", [1920.5, 1080], r"found \[1920.5, 1080\]"),
        ("cam_1", "size", [0, 1080], r"found \[0, 1080\]"),
        ("cam_1", "fisheye", "yes", r"expected true or false, found 'yes'"),
        ("cam_1", "name", 3, r"expected a non-empty string, found 3"),
        ("metadata", "units", "mm", r'expected "m" \(metres\), found \'mm\''),
        ("metadata", "adjusted", "no", r"expected true or false, found 'no'"),
        (
            "metadata",
            "error",
            [0.1, 0.2],
            r"expected 3 numbers \(one per camera\), found \[0.1, 0.2\]",
        ),
        ("metadata", "error", float("nan"), r"expected a finite number, found nan"),
    ],
)
def test_malformed_camera_or_metadata_names_file_table_key(
    make_rig, tmp_path, table, key, value, expected
):
    doc = anipose_document(make_rig(3).cameras)
    _edit(doc, table, key, value)
    path = tmp_path / "bad.toml"
    path.write_text(tomli_w.dumps(doc))
    with pytest.raises(
        CalibrationFileError, match=rf"^{re.escape(str(path))} \[{table}\] {key}: .*{expected}"
    ) as info:
        Rig.load(path)
    message = str(info.value)
    assert (info.value.table, info.value.key) == (table, key)
    assert "expected" in message and "found" in message and "\n" not in message


@pytest.mark.parametrize(
    "text, table, key, expected",
    [
        (
            'scale = 2.0\n[cam_0]\nname = "a"\n',
            None,
            "scale",
            r"expected only tables \(one per camera, plus \[metadata\]\), found a top-level value 2.0",
        ),
        (
            "[metadata]\nadjusted = false\n",
            None,
            None,
            r"expected at least one camera table, found none",
        ),
        (
            "[project]\nframe_rate = 60\n",
            "project",
            None,
            r"expected a camera table with keys \['name', 'size', .*\], found keys \['frame_rate'\]",
        ),
        ("[cam_0\nname = 1\n", None, None, r"expected valid TOML, found a syntax error"),
    ],
)
def test_unknown_layouts_are_named(tmp_path, text, table, key, expected):
    path = tmp_path / "odd.toml"
    path.write_text(text)
    where = re.escape(str(path) + (f" [{table}]" if table else "") + (f" {key}" if key else ""))
    with pytest.raises(CalibrationFileError, match=rf"^{where}: {expected}"):
        Rig.load(path)


def test_missing_file_and_wrong_suffix_are_named(tmp_path):
    with pytest.raises(
        CalibrationFileError,
        match=r"nothere.toml: expected an existing calibration file, found nothing",
    ):
        Rig.load(tmp_path / "nothere.toml")
    with pytest.raises(
        CalibrationFileError,
        match=r"intri.yml: expected a .toml calibration file .* found suffix '.yml'",
    ):
        Rig.load(tmp_path / "intri.yml")


def test_millimetres_are_flagged(make_rig, tmp_path, caplog):
    rig = make_rig(2)
    cam = rig[0].replace(t_cam_from_world=rig[0].t_cam_from_world * 1000)
    path = tmp_path / "mm.toml"
    Rig((cam, rig[1])).save(path)
    with caplog.at_level(logging.WARNING, logger="calibration.io.formats"):
        Rig.load(path)
    assert "[cam_0] translation: expected metres" in caplog.text


# ----------------------------------------------------------------------------- atomic writes


def test_save_leaves_no_temporary_files(rig, tmp_path):
    rig.save(tmp_path / "calibration.toml")
    rig.save(tmp_path / "calibration.toml")
    assert [p.name for p in tmp_path.iterdir()] == ["calibration.toml"]


def test_failed_save_keeps_the_old_file(rig, camera, tmp_path):
    path = tmp_path / "calibration.toml"
    rig.save(path, fmt="pose2sim")
    before = path.read_bytes()
    bad = Rig((camera.replace(name="metadata"),))
    with pytest.raises(CalibrationError):
        bad.save(path, fmt="pose2sim")
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["calibration.toml"]


def test_save_into_missing_folder_is_named(rig, tmp_path):
    with pytest.raises(
        CalibrationFileError, match=r"expected an existing folder .*nowhere'?, found none"
    ):
        rig.save(tmp_path / "nowhere" / "calibration.toml")


def test_unknown_format_is_named(rig, tmp_path):
    with pytest.raises(
        CalibrationFileError, match=r"expected a format in \['anipose', 'pose2sim'\], found 'yaml'"
    ):
        rig.save(tmp_path / "c.toml", fmt="yaml")
