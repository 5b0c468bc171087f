"""Association and tracking inside ``mocap run`` and as ``mocap associate``: a multi-person
session folder (OpenPose JSON with the people in a different order in every file)."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from mocap.app.cli import main
from mocap.app.pipeline import run
from mocap.app.studio import write_session
from mocap.simulate import ErrorModel
from mocap.simulate.crowd import crowd_actors, simulate_crowd
from mocap.associate import Identities
from mocap.types import Points3D


@pytest.fixture(scope="module")
def crowd_session(studio4, tmp_path_factory):
    crowd = simulate_crowd(studio4, crowd_actors("crossing2", 30), 30, 30.0, "body25",
                           ErrorModel(), seed=9)
    root = tmp_path_factory.mktemp("crowd") / "session"
    write_session(root, studio4, dataclasses.replace(crowd.take, detections=crowd.detections),
                  settings={"export": {"formats": ["bvh", "trc"]},
                            "fit": {"iteration_scale": 0.05}})
    return root, crowd


def test_run_gives_one_stable_person_per_actor(crowd_session):
    root, crowd = crowd_session
    manifest = run(root)
    out = root / "out"
    pts = Points3D.load(out / "points3d_raw.npz")
    assert pts.xyz.shape[1] == 2                                        # P = identities
    ids = Identities.load(out / "identities.npz")
    assert ids.num_people == 2 and ids.mode == "multi"
    assert manifest["artifacts"]["identities"] == "identities.npz"
    # Each identity is one actor all along (MPJPE against the actors' ground truth).
    err = np.array([[np.nanmean(np.linalg.norm(pts.xyz[:, t] - crowd.gt_xyz[:, p], axis=-1))
                     for p in range(2)] for t in range(2)])
    assert sorted(err.argmin(1)) == [0, 1]
    assert err.min(1).max() < 0.02 and err.max(1).min() > 0.5
    # One body fit and one export per person.
    people = json.loads((out / "manifest.json").read_text())["people"]
    assert [p["id"] for p in people] == [0, 1]
    for p in people:
        assert {f.split(".")[-1] for f in p["files"]} >= {"bvh", "trc", "npz"}
        assert (out / f"person{p['id']}" / "body.npz").is_file()
        for f in p["files"]:
            assert (out / f).is_file()


def test_main_subject_setting_keeps_one_person(crowd_session, tmp_path):
    root, _ = crowd_session
    import shutil
    copy = tmp_path / "s"
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns("out"))
    text = (copy / "session.toml").read_text().replace("iteration_scale = 0.05",
                                                         "enabled = false")
    (copy / "session.toml").write_text(text + '\n[associate]\nmode = "main_subject"\n')
    run(copy)
    assert Points3D.load(copy / "out" / "points3d.npz").xyz.shape[1] == 1


def test_associate_command_prints_one_row_per_person(crowd_session, capsys):
    root, _ = crowd_session
    assert main(["-q", "associate", str(root)]) == 0
    text = capsys.readouterr().out
    assert "mode multi: 2 people in 30 frames of 4 cameras" in text
    rows = [r for r in text.splitlines() if r.strip()[:1].isdigit()]
    assert len(rows) == 2
    assert (root / "out" / "detections_people.npz").is_file()
    assert main(["-q", "associate", str(root), "--mode", "off"]) == 0
    assert "mode off" in capsys.readouterr().out


def test_associate_command_reports_bad_settings_in_one_line(crowd_session, tmp_path, capsys):
    root, _ = crowd_session
    import shutil
    copy = tmp_path / "s"
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns("out"))
    with open(copy / "session.toml", "a") as fh:
        fh.write('\n[associate]\nmode = "crowd"\n')
    assert main(["associate", str(copy)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error:") and "[associate] mode = 'crowd'" in err[-1]


def test_fit_alone_pairs_each_person_with_their_own_detections(crowd_session):
    """``mocap fit`` run alone gives its reprojection term, in slot p of every view, the
    skeleton that person p's 3D keypoints project onto, whatever association ran last (the
    module's earlier tests leave ``identities.npz`` from ``mocap associate --mode off``, which
    no longer matches the 3D people)."""
    from mocap.app.pipeline import detections_for_fit
    from mocap.app.session import Session
    root, _ = crowd_session
    if not (root / "out" / "points3d.npz").is_file():
        run(root)
    session = Session(root)
    rig = session.rig()
    pts = Points3D.load(root / "out" / "points3d.npz")
    det = detections_for_fit(session, rig, session.settings(), pts)
    assert det.shape[1:3] == pts.xyz.shape[:2]
    err = np.full((2, 2), np.nan)
    seen = np.zeros(2)
    for p in range(2):            # 3D person p against the detections of slot q
        for q in range(2):
            d = []
            for cam, xy, conf in zip(rig, det.xy, det.conf):
                uv = cam.project(pts.xyz[:, p].reshape(-1, 3)).reshape(xy.shape[0], -1, 2)
                d.append(np.linalg.norm(uv - xy[:, q], axis=-1)[conf[:, q] > 0.3])
            d = np.concatenate(d)
            err[p, q] = np.nanmedian(d) if d.size else np.inf
        seen[p] = (det.conf[:, :, p] > 0).any(-1).mean()
    assert err[0, 0] < 10 and err[1, 1] < 10, err
    assert seen.min() > 0.8, seen
