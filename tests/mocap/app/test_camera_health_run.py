"""Nothing silently wrong, end to end: `mocap run` names a camera that contributes nothing
(and writes out/cameras.json), fails when it reconstructs no one, refuses a min_conf above 1
and a video whose frame size is not the calibration's."""
import json
import logging

import cv2
import numpy as np
import pytest
import tomli_w

from mocap.app.cli import main
from mocap.app.pipeline import run
from mocap.app.studio import write_session
from mocap.simulate import Actor, ErrorModel, simulate_take

from bad_sessions import scaled, turned_around

SETTINGS = {"fit": {"enabled": False}, "export": {"formats": ["trc"]}}


@pytest.fixture(scope="module")
def walk(studio4):
    """45 frames of walking in studio4, default detector, no heatmaps."""
    return simulate_take(studio4, [Actor("walk", seed=2)], 45, 30.0, "body25", ErrorModel(),
                         seed=4)


def camera_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.levelno >= logging.WARNING and "% of its" in r.getMessage()]


def test_good_run_names_no_camera_and_writes_the_health_table(tmp_path, studio4, walk, caplog):
    root = write_session(tmp_path / "good", studio4, walk, settings=SETTINGS)
    with caplog.at_level(logging.WARNING):
        manifest = run(root)
    assert camera_warnings(caplog) == []
    table = json.loads((root / "out" / "cameras.json").read_text())
    assert [c["camera"] for c in table["cameras"]] == list(studio4.names)
    assert all(c["ok"] and c["share_used"] > 0.8 for c in table["cameras"])
    assert table["problems"] == [] and manifest["artifacts"]["cameras"] == "cameras.json"


def test_run_names_a_camera_that_looks_the_wrong_way(tmp_path, studio4, walk, caplog):
    root = write_session(tmp_path / "turned", turned_around(studio4, "cam3"), walk,
                         settings=SETTINGS)
    with caplog.at_level(logging.WARNING):
        run(root)
    warned = camera_warnings(caplog)
    assert len(warned) == 1 and warned[0].startswith("cam3: used for 0 % of its ")
    assert "looks the wrong way: check its rotation" in warned[0]
    table = json.loads((root / "out" / "cameras.json").read_text())
    assert [c["ok"] for c in table["cameras"]] == [True, True, False, True]


def test_triangulate_command_names_the_camera_as_run_does(tmp_path, studio4, walk, caplog,
                                                          monkeypatch):
    """`mocap triangulate` computes the health in a process beside the filter (when a second
    CPU is there; forced here) and warns from this one: the same warning and table as the
    pipeline's."""
    from mocap import parallel
    from mocap.app.triangulation import triangulate_session
    monkeypatch.setattr(parallel, "fork_workers", lambda jobs: 2)
    root = write_session(tmp_path / "turned", turned_around(studio4, "cam3"), walk,
                         settings=SETTINGS)
    with caplog.at_level(logging.WARNING):
        done = triangulate_session(root)
    warned = camera_warnings(caplog)
    assert len(warned) == 1 and warned[0].startswith("cam3: used for 0 % of its ")
    table = json.loads((root / "out" / "cameras.json").read_text())
    assert [c["ok"] for c in table["cameras"]] == [True, True, False, True]
    assert [p.name for p in done.written] == ["points3d_raw.npz", "points3d.npz",
                                              "cameras.json", "person0.trc"]
    run(root)                                  # the pipeline's table: the same
    assert json.loads((root / "out" / "cameras.json").read_text()) == table


def test_run_names_detections_made_at_another_resolution(tmp_path, studio4, walk, caplog):
    take = walk.__class__(**{**walk.__dict__, "detections": scaled(walk.detections, 1, 2.0)})
    root = write_session(tmp_path / "scaled", studio4, take, settings=SETTINGS)
    with caplog.at_level(logging.WARNING):
        run(root)
    warned = camera_warnings(caplog)
    assert len(warned) == 1 and warned[0].startswith("cam2: used for 0 % of its ")
    assert "the calibration says 1920 x 1080: were they made at another resolution?" in warned[0]


@pytest.mark.parametrize("command", ["run", "triangulate"])
def test_a_run_that_reconstructs_no_one_fails(tmp_path, studio4, walk, capsys, command):
    settings = {**SETTINGS, "triangulate": {"min_views": 5}}
    root = write_session(tmp_path / "nobody", studio4, walk, settings=settings)
    rc = main([command, str(root)])
    out = capsys.readouterr()
    assert rc != 0
    assert "nothing reconstructed" in out.err + out.out
    assert "min_views = 5 cameras" in out.err + out.out
    assert "outputs in" not in out.out


def test_min_conf_above_one_is_refused(tmp_path, studio4, walk, capsys):
    settings = {**SETTINGS, "triangulate": {"min_conf": 2.0}}
    root = write_session(tmp_path / "conf", studio4, walk, settings=settings)
    rc = main(["run", str(root)])
    out = capsys.readouterr()
    assert rc != 0
    assert "min_conf" in out.err and "2.0" in out.err
    assert not (root / "out" / "points3d.npz").exists()


def test_video_frame_size_must_match_the_calibration(tmp_path, studio4, capsys):
    root = tmp_path / "videos_session"
    root.mkdir()
    studio4.save(root / "calibration.toml")
    for cam in studio4.names:
        w, h = (960, 540) if cam == "cam2" else (1920, 1080)
        folder = root / "videos" / cam
        folder.mkdir(parents=True)
        for f in range(2):
            cv2.imwrite(str(folder / f"{f:04d}.png"), np.zeros((h, w, 3), np.uint8))
    with open(root / "session.toml", "wb") as fh:
        tomli_w.dump({"take": {"fps": 30.0}, **SETTINGS}, fh)
    rc = main(["run", str(root)])
    err = capsys.readouterr().err
    assert rc != 0
    assert "cam2" in err and "960 x 540" in err and "1920 x 1080" in err
    assert not (root / "out" / "detections.npz").exists()
