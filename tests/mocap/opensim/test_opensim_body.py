"""The ``[opensim]`` stage with ``markers = "body"`` (the default) on a short studio take of
the body model (Anny walking, 40 frames, four cameras, the studio's detector noise) through
``mocap run``: the fitted body's virtual markers, the model scaled to the body; the markers
fit within 2 cm RMS, the hip, knee and ankle angles are the true ones (the model's zero is
the body's neutral pose: no static calibration), and a person without a fitted body is one
error naming the person, with nothing written."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

opensim = pytest.importorskip("opensim")

from mocap.app.cli import main as cli                                          # noqa: E402
from mocap.app.studio import write_body_session                                # noqa: E402
from mocap.body import load_body_model                                         # noqa: E402
from mocap.body.joint_angles import isb_angles_deg                             # noqa: E402
from mocap.errors import OpenSimError                                          # noqa: E402
from mocap.opensim import read_sto, solve_people                               # noqa: E402
from mocap.opensim.virtual import MARKERS                                      # noqa: E402
from mocap.simulate import load_rig_template                                   # noqa: E402
from mocap.simulate.bodymodel import BodyActor, simulate_body_take             # noqa: E402
from mocap.simulate.observe import ErrorModel                                  # noqa: E402

FRAMES = 40
#: (ISB joint, axis, OpenSim coordinate without side, RMS bound in degrees)
ANGLES = (("hip", "flexion", "hip_flexion", 3.0), ("knee", "flexion", "knee_angle", 3.0),
          ("ankle", "flexion", "ankle_angle", 3.0), ("hip", "adduction", "hip_adduction", 4.0))


@pytest.fixture(scope="module")
def take(tmp_path_factory):
    """(session folder, truth angles) of a walk run through ``mocap run`` with the body fit
    and ``[opensim] enabled`` (markers from the body by default)."""
    rig = load_rig_template("studio4")
    model = load_body_model("anny")
    bt = simulate_body_take(rig, model, [BodyActor("walk", seed=1)], FRAMES, 30.0, "body25",
                            ErrorModel(), seed=3)
    root = write_body_session(tmp_path_factory.mktemp("osb") / "s", rig, bt, settings={
        "export": {"formats": ["trc"]}, "opensim": {"enabled": True}})
    assert cli(["-q", "run", str(root)]) == 0
    return root, isb_angles_deg(model, bt.take.gt_root_R[:, 0], bt.take.gt_local_R[:, 0])


def test_body_markers_fit_and_give_the_true_angles(take) -> None:
    root, truth = take
    out = root / "out"
    person = json.loads((out / "manifest.json").read_text())["people"][0]
    info = person["opensim"]
    assert info["marker_source"] == "body" and info["solved_frames"] == FRAMES
    assert info["median_marker_rms_m"] < 0.02
    table = np.genfromtxt(out / "person0" / "ik_marker_errors.csv", delimiter=",", names=True)
    assert (table["rms_m"] < 0.02).all()
    _, labels, v = read_sto(out / "person0" / "ik.mot")
    assert v.shape[0] == FRAMES
    for name in ("mtp_angle_r", "wrist_flex_l"):          # no marker moves them
        assert np.abs(v[:, labels.index(name)]).max() < 1e-6
    for joint, axis, coord, bound in ANGLES:
        for side in ("left", "right"):
            d = v[:, labels.index(f"{coord}_{side[0]}")] - truth[(joint, side, axis)]
            rms = float(np.sqrt(np.mean(d ** 2)))
            assert rms < bound, (coord, side, rms)


def test_scaled_model_opens_with_the_virtual_markers(take) -> None:
    """scaled.osim loads in OpenSim with one marker per virtual marker; posed by a frame of
    ik.mot its markers are within 2 cm RMS of markers.trc's."""
    opensim.Logger.setLevelString("error")
    folder = take[0] / "out" / "person0"
    model = opensim.Model(str(folder / "scaled.osim"))
    state = model.initSystem()
    markers = model.getMarkerSet()
    assert sorted(markers.get(i).getName() for i in range(markers.getSize())) == sorted(MARKERS)
    _, labels, v = read_sto(folder / "ik.mot")
    trc = opensim.TimeSeriesTableVec3(str(folder / "markers.trc"))
    coords = model.getCoordinateSet()
    frame = 25
    for i, name in enumerate(labels[1:], 1):
        c = coords.get(name)
        value = np.radians(v[frame, i]) if c.getMotionType() == 1 else v[frame, i]
        c.setValue(state, value, False)
    model.realizePosition(state)
    names, row = list(trc.getColumnLabels()), trc.getRowAtIndex(frame)
    d = [[markers.get(n).getLocationInGround(state).get(k) - row[names.index(n)].get(k)
          for k in range(3)] for n in names]
    assert np.sqrt(np.square(d).sum(1).mean()) < 0.02


def test_cli_keypoint_markers_are_an_option(take, capsys) -> None:
    root, _ = take
    assert cli(["opensim", str(root), "--markers", "keypoints", "--workers", "1"]) == 0
    assert "person 0" in capsys.readouterr().out
    person = json.loads((root / "out" / "manifest.json").read_text())["people"][0]
    assert person["opensim"]["marker_source"] == "keypoints"


def test_a_person_without_a_fitted_body(tmp_path: Path) -> None:
    xyz = np.zeros((12, 1, 25, 3))
    with pytest.raises(OpenSimError, match=r'^person 0 \(body25\): \[opensim\] markers = "body" '
                                           r"needs the person's fitted body"):
        solve_people(xyz, "body25", 30.0, tmp_path / "out", virtual={})
    assert not any((tmp_path / "out").iterdir())


def test_body_markers_without_the_fit_is_refused_when_read(tmp_path: Path) -> None:
    """``[opensim] enabled`` with markers on the body needs the fit in the same run: refused
    when session.toml is read, naming both keys."""
    from mocap.errors import SettingsError
    from mocap.settings import load_settings
    path = tmp_path / "session.toml"
    path.write_text("[fit]\nenabled = false\n[opensim]\nenabled = true\n")
    with pytest.raises(SettingsError, match=r'\[opensim\] enabled = true with markers = "body" '
                                            r"and \[fit\] enabled = false; expected"):
        load_settings(path)
    path.write_text("[fit]\nenabled = false\n[opensim]\nenabled = true\nmarkers = 'keypoints'\n")
    assert load_settings(path).opensim.markers == "keypoints"


@pytest.fixture(scope="module")
def standing():
    """Virtual markers of a short noise-free standing take of the body."""
    from mocap.opensim.virtual import virtual_markers
    from mocap.simulate.bodymodel import animate_body
    model = load_body_model("anny")
    anim = animate_body(model, BodyActor("stand", seed=1), 12, 30.0)
    return virtual_markers(model, anim["betas"], anim["rotations"], anim["transl"])


def test_a_body_observed_in_too_few_frames(standing, tmp_path: Path) -> None:
    import dataclasses
    xyz = standing.xyz.copy()
    xyz[3:] = np.nan
    with pytest.raises(OpenSimError, match=r"^person 0 \(body25, markers on the fitted body\): "
                                           r"the fitted body was observed in 3 of 12 frames"):
        solve_people(np.zeros((12, 1, 25, 3)), "body25", 30.0, tmp_path / "out",
                     virtual={0: dataclasses.replace(standing, xyz=xyz)})
    assert not any((tmp_path / "out").iterdir())


def test_a_failing_opensim_tool_on_the_body(standing, tmp_path: Path, monkeypatch) -> None:
    import shutil

    from mocap.datasets import pose2sim_opensim_setup
    from mocap.opensim import people
    bad = tmp_path / "setup"
    shutil.copytree(pose2sim_opensim_setup(), bad, ignore=shutil.ignore_patterns("Geometry"))
    (bad / "Model_Pose2Sim_simple.osim").write_text("<OpenSimDocument><Model>")
    monkeypatch.setattr(people, "pose2sim_opensim_setup", lambda: bad)
    with pytest.raises(OpenSimError, match=r"^person 0 \(body25, markers on the fitted body\): "
                                           r"OpenSim scaling to the fitted body failed"):
        solve_people(np.zeros((12, 1, 25, 3)), "body25", 30.0, tmp_path / "out",
                     virtual={0: standing})
    assert not any((tmp_path / "out").iterdir())
