"""``mocap export`` alone and inside ``mocap run``: every format written, read back, listed in
``out/manifest.json``; bad settings are one-line errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from exporters import forward_kinematics, read_bvh
from exporters.amass import amass_to_motion, read_amass
from exporters.c3d import read_c3d
from exporters.fbx import read_fbx
from exporters.trc import read_trc
from mocap.app.cli import main
from mocap.keypoints import get_format
from mocap.app.pipeline import run
from mocap.app.studio import write_session
from mocap.simulate import Actor, ErrorModel, load_rig_template, simulate_take
from mocap.types import Points3D

FRAMES = 30


@pytest.fixture(scope="module")
def session_template(tmp_path_factory) -> Path:
    """A simulated walk (clean detector, 30 frames), run with BVH only and no body fit (the
    files follow the keypoint skeleton)."""
    rig = load_rig_template("studio4")
    take = simulate_take(rig, [Actor("walk", seed=2)], FRAMES, 30.0, "body25", ErrorModel.perfect(), seed=1)
    root = write_session(tmp_path_factory.mktemp("export") / "s", rig, take)
    with open(root / "session.toml", "a") as fh:
        fh.write('\n[export]\nformats = ["bvh"]\n[fit]\nenabled = false\n')
    run(root)
    return root


@pytest.fixture
def session(session_template: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(session_template, tmp_path / "s"))


def _manifest(root: Path) -> dict:
    return json.loads((root / "out" / "manifest.json").read_text())


def test_export_alone_writes_every_format(session: Path, capsys) -> None:
    assert _manifest(session)["people"][0]["files"] == ["person0.bvh"]
    rc = main(["export", str(session), "--format", "bvh,fbx,trc,c3d,npz", "--mesh", "boxes"])
    assert rc == 0
    out = session / "out"
    manifest = _manifest(session)
    person = manifest["people"][0]
    expected = ["person0.bvh", "person0.fbx", "person0.trc", "person0.c3d", "person0_amass.npz"]
    assert person["files"] == expected and all((out / f).is_file() for f in expected)
    assert manifest["artifacts"]["points3d"] == "points3d.npz"  # what `mocap run` listed is kept
    printed = capsys.readouterr().out
    assert all(str(out / f) in printed for f in expected)

    points = Points3D.load(out / "points3d.npz")
    xyz = points.xyz[:, 0]
    names, _ = get_format(points.format).tree
    tree = get_format(points.format).tree_positions(xyz)
    # the skeleton files follow the keypoints (branching joints are least squares)
    for skeleton, motion in (read_bvh(out / "person0.bvh"), amass_to_motion(read_amass(out / "person0_amass.npz")),
                             (lambda s: (s.skeleton, s.motion))(read_fbx(out / "person0.fbx"))):
        assert motion.num_frames == FRAMES and motion.fps == pytest.approx(30.0)
        order = [names.index(n) for n in skeleton.joint_names]
        fk = forward_kinematics(skeleton, motion.rotations, motion.root_translation)[0]
        assert np.nanmedian(np.linalg.norm(fk - tree[:, order], axis=-1)) < 0.02
    assert read_fbx(out / "person0.fbx").mesh is not None
    # the marker files hold the keypoints themselves
    trc = read_trc(out / "person0.trc")
    assert trc.marker_names == get_format(points.format).native_names and trc.fps == 30.0
    np.testing.assert_allclose(trc.xyz, xyz, atol=1e-6)
    c3d = read_c3d(out / "person0.c3d")
    assert c3d.labels == get_format(points.format).native_names and c3d.rate_hz == 30.0
    np.testing.assert_allclose(c3d.points, xyz, atol=1e-6)


def test_run_writes_the_formats_of_session_toml(session: Path) -> None:
    text = (session / "session.toml").read_text().replace('formats = ["bvh"]',
                                                          'formats = ["fbx", "c3d"]\nnaming = "mixamo"')
    (session / "session.toml").write_text(text)
    shutil.rmtree(session / "out")
    manifest = run(session)
    assert manifest["people"][0]["files"] == ["person0.fbx", "person0.c3d"]
    assert _manifest(session)["people"][0]["files"] == ["person0.fbx", "person0.c3d"]
    assert sorted(p.name for p in (session / "out").glob("person0*") if p.is_file()) == ["person0.c3d", "person0.fbx"]
    assert manifest["people"][0]["contacts"] == "person0/contacts.csv"
    assert read_fbx(session / "out" / "person0.fbx").skeleton.joint_names[0] == "mixamorig:Hips"


def test_bad_requests_are_one_line_errors(session: Path, capsys) -> None:
    assert main(["export", str(session), "--format", "bvh,obj"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("error: [export] formats = ['bvh', 'obj']; expected every item one of 'bvh', "
                   "'fbx', 'trc', 'c3d', 'npz', found 'obj'")
    (session / "out" / "points3d.npz").unlink()
    assert main(["export", str(session)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "points3d.npz: not found" in err and "\n" not in err
    assert _manifest(session)["people"][0]["files"] == ["person0.bvh"]  # nothing half-done
