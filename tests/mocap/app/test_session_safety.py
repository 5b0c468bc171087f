"""Nothing silently wrong, nothing lost: an export never mixes a stale body fit with new
keypoints; operating-system errors are one line; a corrupt stage record or manifest is
rebuilt; two runs of one session do not run at once."""
from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import mocap.fit
from exporters.atomic import atomic_write
from mocap.app.cli import main
from mocap.app.pipeline import run
from mocap.app.stages import StageRunner
from mocap.app.studio import write_session
from mocap.body import BodyMotion
from mocap.fit.people import PersonFit
from mocap.simulate import Actor, ErrorModel, load_rig_template, simulate_take

FRAMES = 20


@pytest.fixture(scope="module")
def session_template(tmp_path_factory) -> Path:
    """A simulated walk run with TRC only and no body fit."""
    rig = load_rig_template("studio4")
    take = simulate_take(rig, [Actor("walk", seed=2)], FRAMES, 30.0, "body25",
                         ErrorModel.perfect(), seed=1)
    root = write_session(tmp_path_factory.mktemp("safety") / "s", rig, take,
                         settings={"fit": {"enabled": False}, "export": {"formats": ["trc"]}})
    run(root)
    return root


@pytest.fixture
def session(session_template: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(session_template, tmp_path / "s"))


def _fake_fit(points, settings, model, detections=None, rig=None):
    """A stand-in for the body fit (an Anny body at rest, instantly)."""
    F = points.xyz.shape[0]
    joints = ("pelvis", "left_hip")
    body = BodyMotion(surface_model_type="anny", gender="neutral", joint_names=joints,
                      fitted_joints=joints, shape_names=("b0",), betas=np.zeros(1),
                      poses=np.zeros((F, 2, 3)), trans=np.zeros((F, 3)), fps=points.fps,
                      joints=np.zeros((F, 2, 3)), keypoints=np.zeros((F, 0, 3)),
                      keypoint_format="", keypoint_names=(), observed=np.ones(F, bool))
    report = [{"stage": "s", "iterations": 1, "stopped": "done", "seconds": 0.0,
               "losses": {"data": 1.0}}]
    return [PersonFit(0, body, 1.7, report)]


# 1. a stale body fit ---------------------------------------------------------------------

def test_export_refuses_a_fit_of_older_keypoints(session, monkeypatch, capsys):
    monkeypatch.setattr(mocap.fit, "fit_points3d", _fake_fit)
    assert main(["fit", str(session), "--reprojection", "0"]) == 0
    assert main(["triangulate", str(session), "--no-filter"]) == 0   # new points3d.npz
    capsys.readouterr()
    before = (session / "out" / "person0.trc").read_bytes()
    assert main(["export", str(session), "--format", "bvh,trc"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "person0/body.npz" in err and "mocap fit" in err and "points3d.npz" in err
    assert not (session / "out" / "person0.bvh").exists()            # nothing written
    assert (session / "out" / "person0.trc").read_bytes() == before


def test_export_refuses_a_body_without_a_record(session, monkeypatch, capsys):
    """A body file whose fit left no record (a killed rerun, a lost manifest) is stale too."""
    monkeypatch.setattr(mocap.fit, "fit_points3d", _fake_fit)
    assert main(["fit", str(session), "--reprojection", "0"]) == 0
    manifest = json.loads((session / "out" / "manifest.json").read_text())
    for person in manifest["people"]:
        person.pop("points3d_digest", None)
    (session / "out" / "manifest.json").write_text(json.dumps(manifest))
    capsys.readouterr()
    assert main(["export", str(session), "--format", "trc"]) == 2
    assert "mocap fit" in capsys.readouterr().err


def test_export_after_a_killed_rerun_refuses_the_old_fit(session, monkeypatch, capsys):
    """``mocap run`` with a fit, then a rerun with other [filter] settings killed before its
    fit: the body on disk is the old keypoints', the points3d.npz the new one."""
    from mocap.app.steps import override
    from mocap.app.session import Session
    monkeypatch.setattr(mocap.fit, "fit_points3d", _fake_fit)
    settings = Session(session).settings()
    settings = override(settings, "fit", {"enabled": True, "reprojection_weight": 0.0})
    monkeypatch.setattr("mocap.app.pipeline.export_people",
                        lambda *a, **k: [{"id": 0, "frames_seen": FRAMES, "files": []}])
    run(session, settings)
    capsys.readouterr()

    def killed(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr("mocap.app.pipeline.fit_people", killed)
    with pytest.raises(KeyboardInterrupt):
        run(session, override(settings, "filter", {"cutoff_hz": 3.0}))
    assert main(["export", str(session), "--format", "trc"]) == 2
    assert "was fitted to older 3D keypoints" in capsys.readouterr().err


def test_export_uses_a_fit_of_the_current_keypoints(session, monkeypatch):
    monkeypatch.setattr(mocap.fit, "fit_points3d", _fake_fit)
    assert main(["fit", str(session), "--reprojection", "0"]) == 0
    used = {}

    def spy(points, out, settings, bodies=None):
        used.update(bodies or {})
        return []
    monkeypatch.setattr("mocap.app.steps.export_people", spy)
    assert main(["export", str(session), "--format", "trc"]) == 0
    assert list(used) == [0]


# 2. operating-system errors ----------------------------------------------------------------

def test_out_being_a_file_is_one_line(session, capsys):
    shutil.rmtree(session / "out")
    (session / "out").write_text("not a folder")
    assert main(["run", str(session)]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert str(session / "out") in err


def test_a_full_disk_is_one_line_and_keeps_the_files(session, monkeypatch, capsys):
    before = (session / "out" / "person0.trc").read_bytes()

    def full(path, *args, **kwargs):            # the disk fills up half-way through the file
        with atomic_write(path, "w") as fh:
            fh.write("half a file")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr("mocap.export.write_trc", full)
    assert main(["export", str(session), "--format", "trc"]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and os.strerror(errno.ENOSPC) in err
    assert str(session) in err
    assert (session / "out" / "person0.trc").read_bytes() == before
    assert not list((session / "out").rglob("*.tmp"))


def test_a_read_only_out_is_one_line(session, monkeypatch, capsys):
    """A read-only out/ (simulated: root may write anywhere): opening a file to write fails."""
    real = os.open

    def read_only(path, flags, *args, **kwargs):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real(path, flags, *args, **kwargs)
    monkeypatch.setattr(os, "open", read_only)
    assert main(["export", str(session), "--format", "trc"]) != 0
    monkeypatch.undo()
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and os.strerror(errno.EROFS) in err
    assert str(session / "out") in err


# 3. corrupt records --------------------------------------------------------------------------

@pytest.mark.parametrize("content", [b"[]", b"\x8f\x00\xffrandom", b'{"version": 1, "outputs": []}'])
def test_a_corrupt_stage_record_is_rebuilt(session, content, caplog):
    record = session / "out" / ".stages" / "filter.json"
    record.write_bytes(content)
    caplog.set_level(logging.INFO, logger="mocap.app.stages")
    run(session)
    assert "filter" in caplog.text and "stale" in caplog.text
    assert json.loads(record.read_text())["stage"] == "filter"


def test_a_truncated_manifest_is_rebuilt(session):
    """``mocap run`` writes the manifest afresh (it never reads the old one)."""
    path = session / "out" / "manifest.json"
    good = json.loads(path.read_text())
    path.write_text(path.read_text()[:40])
    run(session)
    rebuilt = json.loads(path.read_text())
    assert (rebuilt["artifacts"], rebuilt["people"]) == (good["artifacts"], good["people"])


@pytest.mark.parametrize("command", [["export", "--format", "trc"], ["fit", "--reprojection", "0"]])
def test_a_stage_alone_rebuilds_a_truncated_manifest(session, command, monkeypatch, caplog):
    monkeypatch.setattr(mocap.fit, "fit_points3d", _fake_fit)
    path = session / "out" / "manifest.json"
    path.write_text(path.read_text()[:40])
    caplog.set_level(logging.WARNING, logger="mocap.types")
    assert main([command[0], str(session), *command[1:]]) == 0
    assert "manifest.json: unreadable manifest, rebuilt" in caplog.text
    person = json.loads(path.read_text())["people"][0]
    assert person["id"] == 0 and len(person["files"]) == 1


# 4. one run of a session at a time -------------------------------------------------------------

def _hold_lock(session: Path):
    from mocap.app.stages import LOCK_NAME
    fh = open(session / "out" / LOCK_NAME, "a+")
    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fh


def test_a_second_run_is_refused_while_one_holds_the_session(session, capsys):
    tmp = session / "out" / ".points3d.npz.0123abcd.tmp"      # another run's file in progress
    tmp.write_bytes(b"half")
    holder = _hold_lock(session)
    try:
        assert main(["run", str(session)]) != 0
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1
        assert str(session) in err and "another run" in err
        assert tmp.exists()                                   # not deleted under its feet
        assert main(["export", str(session), "--format", "trc"]) != 0
    finally:
        holder.close()
    assert main(["run", str(session)]) == 0                    # free again: runs, cleans up
    assert not tmp.exists()


def test_stale_temporaries_are_kept_while_another_run_holds_the_lock(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    tmp = out / ".x.npz.abcd.tmp"
    tmp.write_bytes(b"x")
    runner = StageRunner(tmp_path, out)
    with runner.session_lock():
        assert runner.remove_stale_temporaries() == 1
    tmp.write_bytes(b"x")
    fh = _hold_lock(tmp_path)
    try:
        other = StageRunner(tmp_path, out)
        with pytest.raises(Exception, match="another run"):
            with other.session_lock():
                pass
        assert tmp.exists()
    finally:
        fh.close()
