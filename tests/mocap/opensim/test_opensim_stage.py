"""``mocap opensim`` and the ``[opensim]`` stage of ``mocap run`` on a short studio take of the
body model (Anny walking, 2 s, four cameras, the studio's detector noise): the scaled model and
the motion open in OpenSim, one frame of IK re-run on them keeps the markers within 2 cm RMS,
the stage's files are in the manifest, and its errors are one line naming the person and the
format, with nothing written."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

opensim = pytest.importorskip("opensim")

from mocap.app.cli import main as cli                                          # noqa: E402
from mocap.app.studio import write_body_session                                # noqa: E402
from mocap.body import load_body_model                                         # noqa: E402
from mocap.errors import OpenSimError                                          # noqa: E402
from mocap.opensim import read_sto, solve_people                               # noqa: E402
from mocap.simulate import load_rig_template                                   # noqa: E402
from mocap.simulate.bodymodel import BodyActor, simulate_body_take             # noqa: E402
from mocap.simulate.observe import ErrorModel                                  # noqa: E402
from mocap.types import Points3D                                               # noqa: E402

FRAMES = 60


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> Path:
    """A walk run through ``mocap run`` with ``[opensim] enabled`` on the keypoints (no body
    fit)."""
    rig = load_rig_template("studio4")
    bt = simulate_body_take(rig, load_body_model("anny"), [BodyActor("walk", seed=1)], FRAMES,
                            30.0, "body25", ErrorModel(), seed=3)
    root = write_body_session(tmp_path_factory.mktemp("os") / "s", rig, bt, settings={
        "fit": {"enabled": False}, "export": {"formats": ["trc"]},
        "opensim": {"enabled": True, "markers": "keypoints"}})
    assert cli(["-q", "run", str(root)]) == 0
    return root


def test_run_writes_the_files_and_lists_them(session: Path) -> None:
    out = session / "out"
    person = json.loads((out / "manifest.json").read_text())["people"][0]
    for name in ("scaled.osim", "ik.mot", "markers.trc", "ik_marker_errors.csv"):
        assert (out / "person0" / name).is_file() and f"person0/{name}" in person["files"]
    solved = person["opensim"]["solved_frames"]
    assert FRAMES - 5 <= solved <= FRAMES        # a frame missing a leg's marker is not solved
    assert person["opensim"]["median_marker_rms_m"] < 0.03
    assert not list(out.glob(".opensim-*"))                     # no work folder left behind
    _, labels, v = read_sto(out / "person0" / "ik.mot")
    assert v.shape == (solved, len(labels))
    table = np.genfromtxt(out / "person0" / "ik_marker_errors.csv", delimiter=",", names=True)
    assert len(table) == FRAMES and table["solved"].sum() == solved
    np.testing.assert_allclose(np.rint(v[:, 0] * 30.0), np.flatnonzero(table["solved"]))
    for name in ("hip_flexion_r", "knee_angle_r", "ankle_angle_r", "knee_angle_l"):
        assert name in labels
    knee = v[:, labels.index("knee_angle_r")]                    # degrees: a walk's knee
    assert 30 < knee.max() - knee.min() < 80


def _marker_rms(model, state, trc, frame: int) -> float:
    """RMS distance (m) of the model's markers in ``state`` to the TRC's at ``frame``."""
    model.realizePosition(state)
    names = list(trc.getColumnLabels())
    row = trc.getRowAtIndex(frame)
    d = []
    for i in range(model.getMarkerSet().getSize()):
        m = model.getMarkerSet().get(i)
        if m.getName() in names:
            want = row[names.index(m.getName())]
            got = m.getLocationInGround(state)
            d.append([got.get(k) - want.get(k) for k in range(3)])
    d = np.array(d)
    d = d[np.isfinite(d).all(1)]
    assert len(d) >= 15
    return float(np.sqrt((d ** 2).sum(1).mean()))


def test_model_and_motion_open_in_opensim_and_one_frame_of_ik_fits(session: Path) -> None:
    """Load scaled.osim, ik.mot and markers.trc with OpenSim: the model posed by a frame of the
    motion puts its markers within 2 cm RMS of the measured ones, and IK of that frame solved
    again (OpenSim's solver, Pose2Sim's marker weights) does too, with the same angles."""
    opensim.Logger.setLevelString("error")
    folder = session / "out" / "person0"
    model = opensim.Model(str(folder / "scaled.osim"))
    state = model.initSystem()
    motion = opensim.TimeSeriesTable(str(folder / "ik.mot"))
    trc = opensim.TimeSeriesTableVec3(str(folder / "markers.trc"))
    assert trc.getNumRows() == FRAMES and FRAMES - 5 <= motion.getNumRows() <= FRAMES
    labels = list(motion.getColumnLabels())
    row = motion.getRowAtIndex(20)
    frame = int(round(motion.getIndependentColumn()[20] * 30.0))     # the TRC's row
    coords = model.getCoordinateSet()
    for i, name in enumerate(labels):
        c = coords.get(name)
        rotational = c.getMotionType() == 1
        c.setValue(state, np.radians(row[i]) if rotational else row[i], False)
    assert _marker_rms(model, state, trc, frame) < 0.02

    from mocap.datasets import pose2sim_opensim_setup
    tool = opensim.InverseKinematicsTool(
        str(pose2sim_opensim_setup() / "IK_Setup_Pose2Sim_Body25.xml"))
    tasks = tool.getIKTaskSet()           # owned by the tool: keep the tool alive
    weights = opensim.SetMarkerWeights()
    tasks.createMarkerWeightSet(weights)
    references, keep = opensim.SimTKArrayCoordinateReference(), []    # keep: alive in C++
    for i in range(tasks.getSize()):
        task = opensim.IKCoordinateTask.safeDownCast(tasks.get(i))
        if task is not None and task.getApply():
            ref = opensim.CoordinateReference(task.getName(), opensim.Constant(task.getValue()))
            ref.setWeight(task.getWeight())
            references.push_back(ref)
            keep.append(ref)
    solver = opensim.InverseKinematicsSolver(
        model, opensim.MarkersReference(trc, weights), references)
    solver.setAccuracy(1e-5)
    state.setTime(motion.getIndependentColumn()[20])
    solver.assemble(state)            # from the .mot's pose, as the tool starts from the last
    assert _marker_rms(model, state, trc, frame) < 0.02
    for name in ("hip_flexion_r", "knee_angle_r", "ankle_angle_l"):
        got = np.degrees(coords.get(name).getValue(state))
        assert abs(got - row[labels.index(name)]) < 0.5


def test_cli_opensim_reruns_the_stage(session: Path, capsys) -> None:
    assert cli(["opensim", str(session), "--workers", "1"]) == 0
    assert "person 0" in capsys.readouterr().out


def test_a_person_missing_from_part_of_the_take(session: Path, tmp_path: Path) -> None:
    """Frames without the person have no row in ik.mot and NaN errors; a person seen in too
    few frames is one error naming the person and the format, and nothing is written."""
    pts = Points3D.load(session / "out" / "points3d.npz")
    legs = np.isfinite(pts.xyz[:, 0, 9:15]).all((1, 2))      # BODY_25 hips, knees, ankles
    assert legs[40:].all()
    xyz = np.concatenate([pts.xyz, pts.xyz + [1.5, 0.0, 0.0]], axis=1)    # a second person
    xyz[10:20, 1] = np.nan
    seen = legs.copy()
    seen[10:20] = False
    xyz[:, 0, 9] = np.nan                         # person 0's right hip: never solvable
    xyz[52:, 0, 9] = pts.xyz[52:, 0, 9]           # ... except in 8 frames
    with pytest.raises(OpenSimError, match=r"^person 0 \(body25\): .*8 of 60 frames"):
        solve_people(xyz, "body25", 30.0, tmp_path / "out")
    assert not any((tmp_path / "out").iterdir())
    xyz[:, 0] = np.nan                            # person 0 absent: skipped
    entries = solve_people(xyz, "body25", 30.0, tmp_path / "out")
    assert [e["id"] for e in entries] == [1]
    assert entries[0]["opensim"]["solved_frames"] == seen.sum()
    table = np.genfromtxt(tmp_path / "out" / "person1" / "ik_marker_errors.csv", delimiter=",",
                          names=True)
    assert (table["solved"] == seen).all()
    assert np.isnan(table["rms_m"][~seen]).all() and (table["rms_m"][seen] < 0.03).all()
    _, _, v = read_sto(tmp_path / "out" / "person1" / "ik.mot")
    np.testing.assert_allclose(np.rint(v[:, 0] * 30.0), np.flatnonzero(seen))


def test_a_format_without_marker_set(tmp_path: Path) -> None:
    xyz = np.zeros((12, 1, 24, 3))
    with pytest.raises(OpenSimError, match=r"^person 0: keypoint format 'smpl24' has no OpenSim "
                                           r"marker set"):
        solve_people(xyz, "smpl24", 30.0, tmp_path / "out")
    assert not any((tmp_path / "out").iterdir())


def test_a_failing_opensim_tool(session: Path, tmp_path: Path, monkeypatch) -> None:
    """OpenSim's own failure (here a setup folder whose generic model is corrupt) becomes one
    line naming the person, the format and the tool; nothing is written."""
    import shutil

    from mocap.datasets import pose2sim_opensim_setup
    from mocap.opensim import people
    bad = tmp_path / "setup"
    shutil.copytree(pose2sim_opensim_setup(), bad, ignore=shutil.ignore_patterns("Geometry"))
    (bad / "Model_Pose2Sim_simple.osim").write_text("<OpenSimDocument><Model>")
    monkeypatch.setattr(people, "pose2sim_opensim_setup", lambda: bad)
    pts = Points3D.load(session / "out" / "points3d.npz")
    with pytest.raises(OpenSimError, match=r"^person 0 \(body25\): OpenSim scaling failed"):
        solve_people(pts.xyz, "body25", 30.0, tmp_path / "out")
    assert not any((tmp_path / "out").iterdir())
