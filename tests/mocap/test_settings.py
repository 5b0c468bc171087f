"""session.toml is checked once, when it is read: every choice and range of every stage's
settings, with one line naming the file, the table and the key, before any stage runs."""
from __future__ import annotations

import dataclasses
import re

import pytest

from mocap.app.cli import main
from mocap.errors import SettingsError
from mocap.schema import NON_NEGATIVE, POSITIVE, Range, at_least, check_fields
from mocap.settings import (BodyKind, BoneNaming, DetectBackend, ExportFormat, ExportMesh,
                            FitSettings, MeshFiles, Settings, VolumeAggregation, choices,
                            load_settings)

ONE_OF = "expected one of "

# (table, key, bad value, what the message says is expected): every check the stages used to
# make of their settings before they ran (the fit's, triangulation's, the volumetric method's,
# association's, the filter's smoother and one-euro, export's, the detector spec's): the
# settings now check themselves, once, when they are read or built.
BAD = [
    ("take", "fps", 0, "expected > 0"),
    ("take", "fps", float("inf"), "expected a finite number > 0"),
    ("detect", "format", "coco19", "expected a keypoint format (coco17, coco18, body25"),
    ("detect", "backend", "openpose", ONE_OF + "'blazepose', 'onnx'"),
    ("detect", "model_format", "coco19", "expected a keypoint format"),
    ("detect", "person_boxes", "half", ONE_OF + "'detector', 'full'"),
    ("detect", "max_people", 0, "expected >= 1"),
    ("detect", "min_presence", 1.5, "expected in [0, 1]"),
    ("detect", "workers", -1, "expected >= 0"),
    ("detect", "model_std_rgb", [58.4, 0.0, 57.4], "expected every item > 0, found 0.0"),
    ("detect", "model_mean_rgb", [123.7, 116.3], "expected 3 numbers (red, green, blue)"),
    ("sync", "max_offset_frames", 0, "expected >= 1"),   # 0 was accepted, then "too few frames"
    ("sync", "min_margin", 2.5, "expected in [0, 2]"),    # a margin of correlations is <= 2
    ("sync", "min_correlation", 1.5, "expected in [-1, 1]"),
    ("associate", "mode", "crowd", ONE_OF + "'multi', 'main_subject', 'off'"),
    ("associate", "min_conf", 1.5, "expected in [0, 1]"),
    ("associate", "min_joints", 1, "expected >= 2"),
    ("associate", "max_ray_distance_m", 0.0, "expected > 0"),
    ("associate", "track_gate_m", 0.0, "expected > 0"),
    ("associate", "max_speed_m_per_s", -1.0, "expected > 0"),
    ("associate", "max_gap_s", -0.5, "expected >= 0"),
    ("associate", "reid_max_gap_s", -1.0, "expected >= 0"),
    ("associate", "reid_bone_tolerance", 0.0, "expected > 0"),
    ("associate", "min_track_s", -0.1, "expected >= 0"),
    ("associate", "max_people", -1, "expected >= 0"),
    ("associate", "volume_radius_m", 0.0, "expected > 0"),
    ("triangulate", "method", "dlt", ONE_OF + "'algebraic', 'volumetric'"),
    ("triangulate", "view_selection", "best", ONE_OF + "'robust', 'all'"),
    ("triangulate", "backend", "jax", ONE_OF + "'numpy', 'torch'"),
    ("triangulate", "min_conf", 2.0, "expected in [0, 1]"),
    ("triangulate", "min_views", 1, "expected >= 2"),
    ("triangulate", "min_conf", 1.5, "expected in [0, 1]"),
    ("triangulate", "temporal_half_window", 0, "expected >= 1"),
    ("triangulate", "min_ray_angle_deg", 180.0, "expected in [0, 180)"),
    ("triangulate", "reproj_threshold_px", 0.0, "expected > 0"),
    ("triangulate", "volume_aggregation", "max", ONE_OF + "'product', 'softmax', 'mean'"),
    ("triangulate", "volume_grid", 1, "expected >= 2"),
    ("triangulate", "volume_refine_grid", 1, "expected >= 2"),
    ("triangulate", "volume_voxel_mm", 0.0, "expected > 0"),
    ("triangulate", "volume_floor", 0.0, "expected in (0, 1]"),   # 0: log(0) * 0 = NaN
    ("filter", "smoother", "kalman", ONE_OF + "'butterworth', 'one_euro', 'none'"),
    ("filter", "cutoff_hz", -1.0, "expected >= 0"),
    ("filter", "cutoff_hz", float("inf"), "expected a finite number >= 0"),
    ("filter", "max_gap_s", -1.0, "expected >= 0"),
    ("filter", "order", 0, "expected >= 1"),
    ("filter", "one_euro_min_cutoff_hz", 0.0, "expected > 0"),
    ("filter", "one_euro_d_cutoff_hz", 0.0, "expected > 0"),
    ("filter", "one_euro_beta", -1.0, "expected >= 0"),
    ("fit", "body", "smpl-x", ONE_OF + "'anny', 'smpl', 'smplh', 'smplx'"),
    ("fit", "gender", "other", ONE_OF + "'neutral', 'male', 'female'"),
    ("fit", "meshes", "stl", ONE_OF + "'', 'ply', 'obj'"),
    ("fit", "iteration_scale", 0.0, "expected > 0"),
    ("fit", "mesh_every", 0, "expected >= 1"),
    ("fit", "threads", 0, "expected >= 1"),
    ("fit", "reprojection_weight", -0.5, "expected >= 0"),
    ("fit", "floor_weight", -1.0, "expected >= 0"),
    ("export", "formats", ["bvh", "obj"], "expected every item one of 'bvh', 'fbx', 'trc', "
                                          "'c3d', 'npz', found 'obj'"),
    ("export", "up_axis", "x", ONE_OF + "'y', 'z'"),
    ("export", "units", "inch", ONE_OF + "'m', 'cm', 'mm'"),
    ("export", "c3d_units", "cm", ONE_OF + "'mm', 'm'"),
    ("export", "naming", "maya", ONE_OF + "'canonical', 'mixamo', 'unreal', 'metahuman', 'blender', 'smpl'"),
    ("export", "mesh", "skin", ONE_OF + "'body', 'boxes', 'none'"),
    ("calibration", "max_frames_per_camera", 0, "expected >= 1"),
    ("calibration", "floor_frame", -2, "expected >= -1"),
]


def _toml(value) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return repr(value)


@pytest.mark.parametrize("table, key, value, expected", BAD,
                         ids=[f"{t}.{k}" for t, k, _, _ in BAD])
def test_a_bad_value_is_rejected_at_load_naming_the_file_and_key(tmp_path, table, key, value,
                                                                 expected):
    path = tmp_path / "session.toml"
    path.write_text(f"[{table}]\n{key} = {_toml(value)}\n")
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    msg = str(info.value)
    assert msg.startswith(f"{path} [{table}] {key} = {value!r}; ") and expected in msg, msg
    assert "\n" not in msg


def test_values_at_the_edge_of_their_ranges_and_aliases_are_accepted(tmp_path):
    path = tmp_path / "session.toml"
    path.write_text("[detect]\nformat = 'COCO'\nworkers = 0\n[associate]\nmax_people = 0\n"
                    "min_conf = 0\n[filter]\ncutoff_hz = 0\nhampel_window_s = 0\n"
                    "[triangulate]\ntemporal_radius_m = 0\nmin_views = 2\n[fit]\nmeshes = ''\n"
                    "[export]\nformats = 'bvh, trc'\n[calibration]\nfloor_frame = -1\n")
    s = load_settings(path)
    assert s.detect.format == "COCO" and s.export.formats == ("bvh", "trc")
    assert s.associate.max_people == 0 and s.filter.cutoff_hz == 0.0


def test_a_nested_table_is_named_as_in_toml(tmp_path):
    path = tmp_path / "session.toml"
    path.write_text("[calibration.board]\nsquares_x = 'five'\n")
    with pytest.raises(SettingsError, match=r"session.toml \[calibration.board\].squares_x: "
                                            r"expected int, found str 'five'"):
        load_settings(path)


def test_the_run_stops_at_load_before_any_stage(tmp_path, capsys):
    """No calibration, no detections: a bad setting is still what is reported, and nothing
    is written."""
    from mocap.app.pipeline import run
    (tmp_path / "session.toml").write_text("[fit]\nbody = 'smpl-x'\n")
    with pytest.raises(SettingsError, match=r"session.toml \[fit\] body = 'smpl-x'"):
        run(tmp_path)
    assert main(["run", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {tmp_path / 'session.toml'} [fit] body = 'smpl-x'; expected one of "
                   f"'anny', 'smpl', 'smplh', 'smplx'"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["session.toml"]


def test_every_default_is_allowed_and_check_fields_checks_code_built_settings():
    check_fields(Settings(), "settings")
    with pytest.raises(SettingsError, match=r"^\[fit\] threads = 0; expected >= 1$"):
        check_fields(dataclasses.replace(FitSettings(), threads=0), "[fit]")


def test_the_choices_are_those_the_stages_know():
    from exporters.naming import PRESETS
    from mocap.body import BODY_KINDS, MESH_FORMATS
    from mocap.detect.types import BACKENDS
    from mocap.export import FORMATS, MESHES
    from mocap.triangulate.volumetric import AGGREGATIONS
    assert set(choices(BoneNaming)) == set(PRESETS)   # the exporters' presets, a library apart
    # The stages' lists are read from the settings' choices, not written again.
    assert (BODY_KINDS, ("",) + MESH_FORMATS) == (choices(BodyKind), choices(MeshFiles))
    assert (FORMATS, MESHES) == (choices(ExportFormat), choices(ExportMesh))
    assert (AGGREGATIONS, BACKENDS) == (choices(VolumeAggregation), choices(DetectBackend))


@pytest.mark.parametrize("table, key, value, expected", [
    row for row in BAD if row[0] not in ("calibration", "calibration.board")])
def test_settings_built_in_code_are_checked_when_built(table, key, value, expected):
    """A stage never checks its settings: a table built in code (dataclasses.replace, the
    command line's options) is checked as one read from session.toml."""
    cls = type(getattr(Settings(), table))
    with pytest.raises(SettingsError, match=rf"^\[{table}\] {key} = .*{re.escape(expected)}"):
        dataclasses.replace(cls(), **{key: value})


def test_ranges_read_as_in_messages():
    assert (str(POSITIVE), str(NON_NEGATIVE), str(at_least(2))) == ("> 0", ">= 0", ">= 2")
    assert str(Range(0, 1, high_open=True)) == "in [0, 1)"
    assert not POSITIVE.ok(float("nan")) and NON_NEGATIVE.ok(0) and not POSITIVE.ok(0)


# Settings that are each in range but make no sense together: (session.toml text, what the
# one-line message must name). The message names the file and both keys.
ACROSS = [
    ("[take]\nfps = 10\n[filter]\ncutoff_hz = 6\n",
     "[filter] cutoff_hz = 6 and [take] fps = 10; expected cutoff_hz below the Nyquist "
     "frequency fps / 2 = 5 Hz (or 0: no low-pass)"),
    ("[take]\nfps = 30\n[filter]\nsmoother = 'one_euro'\none_euro_min_cutoff_hz = 20\n",
     "[filter] one_euro_min_cutoff_hz = 20 and [take] fps = 30; expected one_euro_min_cutoff_hz "
     "below the Nyquist frequency fps / 2 = 15 Hz"),
    ("[take]\nfps = 30\n[filter]\nsmoother = 'one_euro'\none_euro_d_cutoff_hz = 15\n",
     "[filter] one_euro_d_cutoff_hz = 15 and [take] fps = 30; expected one_euro_d_cutoff_hz "
     "below the Nyquist frequency fps / 2 = 15 Hz"),
    ("[take]\nfps = 30\n[filter]\nhampel_window_s = 0.03\n",
     "[filter] hampel_window_s = 0.03 and [take] fps = 30; expected 0 (no spike removal) or "
     "more than 1 / fps = 0.0333 s (a frame on each side)"),
    ("[calibration]\ncameras = ['cam1', 'cam2']\nfisheye_cameras = ['cam3']\n",
     "[calibration] fisheye_cameras = ['cam3'] and cameras = ['cam1', 'cam2']; expected "
     "fisheye_cameras among cameras, found 'cam3'"),
]


@pytest.mark.parametrize("text, expected", ACROSS, ids=[e.split(" =")[0] for _, e in ACROSS])
def test_settings_that_contradict_each_other_are_rejected_naming_both_keys(tmp_path, text,
                                                                            expected):
    path = tmp_path / "session.toml"
    path.write_text(text)
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    assert str(info.value) == f"{path} {expected}"


def test_the_rules_across_keys_hold_for_settings_built_in_code():
    """The command line's options build settings in code: checked the same, naming
    session.toml (the whole file's settings) and both keys."""
    from mocap.settings import CalibrationSettings, FilterSettings, TakeSettings
    with pytest.raises(SettingsError, match=r"^session.toml \[filter\] cutoff_hz = 6 and "
                                            r"\[take\] fps = 10; expected cutoff_hz below"):
        Settings().replace(take=TakeSettings(fps=10.0))
    with pytest.raises(SettingsError, match=r"^\[calibration\] fisheye_cameras = \['c3'\] and "
                                            r"cameras = \['c1'\]; expected"):
        CalibrationSettings(cameras=("c1",), fisheye_cameras=("c3",))
    # The cut-offs of the smoother not in use, and a low-pass turned off, are not checked.
    Settings(take=TakeSettings(fps=10.0), filter=FilterSettings(cutoff_hz=0.0))
    Settings(take=TakeSettings(fps=10.0), filter=FilterSettings(smoother="one_euro"))
    Settings(take=TakeSettings(fps=10.0), filter=FilterSettings(smoother="none"))


def test_a_list_of_numbers_given_as_text_is_read_as_numbers(tmp_path):
    """``offsets = "0, 2"`` used to load as the strings ('0', '2')."""
    path = tmp_path / "session.toml"
    path.write_text("[sync]\noffsets = '0, 2, -1'\n[detect]\nmodel_std_rgb = '58, 57.5, 57'\n")
    s = load_settings(path)
    assert s.sync.offsets == (0, 2, -1) and s.detect.model_std_rgb == (58.0, 57.5, 57.0)
    path.write_text("[sync]\noffsets = '0, two'\n")
    with pytest.raises(SettingsError, match=r"session.toml \[sync\].offsets: expected int, "
                                            r"found str 'two'"):
        load_settings(path)
