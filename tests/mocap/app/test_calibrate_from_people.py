"""``mocap calibrate SESSION --level-from-person`` and ``--refine-from-people`` on virtual-studio
sessions whose true world frame and cameras are known: the floor recovered from a standing
person, the cameras refined from people's 2D keypoints, the backups and the messages."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from calibration import Rig
from calibration.world import transform_rig
from mocap.app.cli import main
from mocap.app.studio import write_session
from mocap.simulate import Actor, load_rig_template, simulate_take
from mocap.simulate.calib_truth import (T_TILTED_FROM_TRUE, mean_baseline_m, poor_rig,
                                        relative_centre_error_m)
from mocap.simulate.calib_truth import floor_errors as _floor_errors

STUDIO = load_rig_template("studio4")


def studio_session(root: Path, motion: str, fmt: str, rig: Rig, frames: int = 60,
                   actors=None, seed: int = 1):
    """A studio4 take (detections from the true cameras) written with calibration ``rig``."""
    actors = actors or [Actor(motion, 1.72, seed=2, xy_offset_m=(0.4, -0.3))]
    take = simulate_take(STUDIO, actors, frames, 30.0, fmt, seed=seed)
    write_session(root, rig, take)
    return take


def floor_errors(rig: Rig, take):
    """See :func:`mocap.simulate.calib_truth.floor_errors` (truth: the studio)."""
    return _floor_errors(rig, STUDIO, take.gt_xyz, take.detections.format)


def test_level_from_a_person_turning_on_the_spot(tmp_path, capsys):
    """The recommended protocol: stand upright and turn around; the body's lean cancels."""
    root = tmp_path / "s"
    tilted = transform_rig(STUDIO, T_TILTED_FROM_TRUE)
    take = studio_session(root, "turn", "body25", tilted)
    before = (root / "calibration.toml").read_bytes()
    assert main(["calibrate", str(root), "--level-from-person", "-q"]) == 0
    out = capsys.readouterr().out
    assert "2D detections triangulated with calibration.toml" in out
    backup = root / "calibration.backup1.toml"
    assert f"previous calibration kept as {backup}" in out
    assert backup.read_bytes() == before
    rig = Rig.load(root / "calibration.toml")
    tilt, floor_z, origin, dz = floor_errors(rig, take)
    assert tilt < 0.5 and abs(floor_z) < 0.01          # measured: 0.15 deg, 0.1 cm
    assert np.linalg.norm(origin) < 0.10               # origin on the floor under the person
    assert np.all(np.abs(dz) < 0.02)                   # camera heights, metres kept
    assert np.allclose([np.linalg.det(c.R_cam_from_world) for c in rig], 1.0)
    report = json.loads((root / "out/calibration/adjust_report.json").read_text())
    assert report["backup"] == str(backup) and "tilt corrected" in report["level_from_person"]
    assert not list(root.glob(".*.tmp"))


def test_level_from_a_person_standing_still_ankles_only(tmp_path, capsys):
    """COCO-17 has no heel or toe: the floor is the ankles' standing height below them. The
    points of `mocap triangulate` are used when they are newer than the calibration; a second
    run (calibration now newer) triangulates again, finds the floor level and backs up again."""
    root = tmp_path / "s"
    tilted = transform_rig(STUDIO, T_TILTED_FROM_TRUE)
    take = studio_session(root, "stand", "coco17", tilted)
    assert main(["triangulate", str(root), "-q"]) == 0
    capsys.readouterr()
    assert main(["calibrate", str(root), "--level-from-person", "-q"]) == 0
    out = capsys.readouterr().out
    assert f"({root / 'out' / 'points3d.npz'})" in out
    assert "note: results already in out/ used the previous calibration" in out
    tilt, floor_z, origin, dz = floor_errors(Rig.load(root / "calibration.toml"), take)
    # A person standing still facing one way leans (the simulated body 0.86 deg): < 1 deg.
    assert tilt < 1.0 and abs(floor_z) < 0.02 and np.linalg.norm(origin) < 0.10
    assert np.all(np.abs(dz) < 0.10)   # up to 4.7 m from the person: 1 deg = 8 cm, + 2 cm
    assert main(["calibrate", str(root), "--level-from-person", "-q"]) == 0
    out = capsys.readouterr().out
    assert "2D detections triangulated with calibration.toml (points3d.npz older than the " \
           "calibration)" in out
    assert (root / "calibration.backup2.toml").is_file()
    corrected = float(out.split("tilt corrected ")[1].split(" deg")[0])
    assert corrected < 0.1                             # already level


def test_no_capture_to_level_from_is_named(tmp_path, capsys):
    root = tmp_path / "s"
    root.mkdir()
    STUDIO.save(root / "calibration.toml")
    before = (root / "calibration.toml").read_bytes()
    for flag in ("--level-from-person", "--refine-from-people"):
        assert main(["calibrate", str(root), flag]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) <= 2 and err[-1].startswith(f"error: {root}: ")
        assert "a capture: expected" in err[-1] and "found none" in err[-1]
    assert (root / "calibration.toml").read_bytes() == before
    assert not list(root.glob("calibration.backup*"))
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["calibrate", str(empty), "--refine-from-people"]) == 2
    assert "no calibration.toml" in capsys.readouterr().err


def test_level_message_for_a_missing_capture(tmp_path, capsys):
    root = tmp_path / "s"
    root.mkdir()
    STUDIO.save(root / "calibration.toml")
    assert main(["calibrate", str(root), "--level-from-person"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"error: {root}: levelling the floor from a standing person needs a capture: expected "
        "out/points3d.npz (`mocap triangulate`) newer than calibration.toml or 2D detections "
        "(pose/<camera>/ OpenPose JSON, pose/<camera>.json|.csv|.h5, out/detections.npz) or "
        "videos/<camera>.<ext>, found none")


def test_refine_from_people_fixes_a_poor_calibration(tmp_path, capsys):
    root = tmp_path / "s"
    poor = poor_rig(STUDIO)
    studio_session(root, "walk", "body25", poor, actors=[Actor("walk", 1.75, seed=1)], seed=3)
    assert main(["calibrate", str(root), "--refine-from-people", "-q"]) == 0
    out = capsys.readouterr().out
    assert "camera         before px  after px" in out and "board scale kept" in out
    refined = Rig.load(root / "calibration.toml")
    assert (root / "calibration.backup1.toml").is_file()
    report = json.loads((root / "out/calibration/adjust_report.json").read_text())
    cams = report["refine_from_people"]["cameras"]
    assert [c["name"] for c in cams] == list(STUDIO.names)
    before = np.array([c["reprojection_error_before_px"] for c in cams])
    after = np.array([c["reprojection_error_after_px"] for c in cams])
    assert np.all(after < 0.8 * before)                # measured: 8.4 -> 5.2 px RMS
    for c in cams:
        assert f"{c['name']:<14}{c['reprojection_error_before_px']:10.3f}" in out

    # Camera centres toward the truth (up to the world frame and scale, which 2D keypoints
    # cannot tell: they stay the board calibration's).
    assert relative_centre_error_m(refined, STUDIO) < 0.3 * relative_centre_error_m(poor, STUDIO)
    assert mean_baseline_m(refined) == pytest.approx(mean_baseline_m(poor), rel=2e-3)  # scale


def test_refine_then_level_with_a_walker_in_the_room(tmp_path, capsys):
    """Both at once on a poor, tilted calibration: the refinement first, then the levelling
    from the person turning on the spot, triangulated with the refined cameras (the points of
    an earlier `mocap triangulate` are stale); the walker, who leans forward, is left out."""
    root = tmp_path / "s"
    rig = transform_rig(poor_rig(STUDIO), T_TILTED_FROM_TRUE)
    actors = [Actor("turn", 1.72, seed=2, xy_offset_m=(0.4, -0.3)), Actor("walk", 1.75, seed=1)]
    take = studio_session(root, "turn", "body25", rig, actors=actors)
    assert main(["triangulate", str(root), "-q"]) == 0
    capsys.readouterr()
    assert main(["calibrate", str(root), "--refine-from-people", "--level-from-person", "-q"]) == 0
    out = capsys.readouterr().out
    assert "triangulated with the refined calibration" in out
    assert sorted(p.name for p in root.glob("calibration.backup*")) == ["calibration.backup1.toml"]
    tilt, floor_z, origin, dz = floor_errors(Rig.load(root / "calibration.toml"), take)
    assert tilt < 0.5 and abs(floor_z) < 0.015 and np.linalg.norm(origin) < 0.10  # 0.11 deg
    assert np.all(np.abs(dz) < 0.03)
