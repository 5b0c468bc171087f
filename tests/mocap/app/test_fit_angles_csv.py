"""``mocap run`` writes each fitted person's ISB joint angles, ``out/person<N>/angles.csv``,
and on a studio take of the body model (Anny walking, four cameras, the studio's detector
noise) they are the true rotations' angles within a few degrees; the report's biomechanics
section draws them beside OpenSim's IK, with the range of motion and the heel strikes."""
from __future__ import annotations

import json

import numpy as np

from mocap.app.cli import main as cli
from mocap.app.studio import write_body_session
from mocap.body import load_body_model
from mocap.body.joint_angles import isb_angles_deg
from mocap.simulate import load_rig_template
from mocap.simulate.bodymodel import BodyActor, simulate_body_take
from mocap.simulate.observe import ErrorModel


def test_fitted_angles_csv_against_the_true_rotations(tmp_path) -> None:
    F = 45
    anny = load_body_model("anny")
    rig = load_rig_template("studio4")
    bt = simulate_body_take(rig, anny, [BodyActor("walk", seed=1)], F, 30.0, "body25",
                            ErrorModel(), seed=3)
    root = write_body_session(tmp_path / "s", rig, bt, settings={
        "export": {"formats": ["trc"]}, "fit": {"iteration_scale": 0.5},
        "opensim": {"enabled": True}})
    assert cli(["-q", "run", str(root)]) == 0
    person = json.loads((root / "out" / "manifest.json").read_text())["people"][0]
    assert person["angles"] == "person0/angles.csv" and "person0/angles.csv" in person["files"]
    path = root / "out" / "person0" / "angles.csv"
    header = path.read_text().splitlines()[0].split(",")
    assert header[:3] == ["frame", "time_s", "observed"] and "knee_right_flexion_deg" in header
    table = np.genfromtxt(path, delimiter=",", names=True)
    assert len(table) == F and table["observed"].all()
    truth = isb_angles_deg(anny, bt.take.gt_root_R[:, 0], bt.take.gt_local_R[:, 0])

    def rms(joint, side, axis):
        d = table["_".join(p for p in (joint, side, axis) if p) + "_deg"] - truth[(joint, side, axis)]
        return float(np.sqrt(np.mean(d ** 2)))
    for side in ("left", "right"):
        for joint in ("hip", "knee", "ankle"):
            assert rms(joint, side, "flexion") < 3.0, (joint, side)
        for joint in ("hip", "knee"):
            assert rms(joint, side, "adduction") < 3.0, (joint, side)
    assert rms("pelvis", "", "flexion") < 2.0 and rms("trunk", "", "flexion") < 2.0

    assert cli(["-q", "report", str(root)]) == 0
    page = (root / "out" / "report.html").read_text()
    section = page[page.index('<section id="biomechanics">'):]
    section = section[:section.index("</section>")]
    assert section.count("<img") == 1 and "body fit" in section and "IK" in section
    assert "knee flexion" in section and "expected RMS error" in section
    assert "heel strikes" in section          # a walk: its gait events
