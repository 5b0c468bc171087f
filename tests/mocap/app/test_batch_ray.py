"""``mocap batch``: session discovery, a local process pool and a local Ray cluster give the
same outputs as running the sessions one by one; a broken session is reported, not fatal."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from mocap.app.batch import find_sessions, is_session, run_batch, run_one, summary_table
from mocap.app.cli import main as cli_main
from mocap.errors import MocapError
from mocap.app.pipeline import run
from mocap.app.studio import write_session
from mocap.simulate import Actor, ErrorModel, simulate_take

LAYOUT = ("day1/take0", "day1/take1", "day2/take2", "take3")
MOTIONS = ("walk", "squat", "jumping_jacks", "jog_circle")


def _make_root(root: Path, rig) -> list[Path]:
    """4 simulated sessions (40 frames, no heatmaps), a broken one, and folders that are not
    sessions."""
    sessions = []
    for i, (rel, motion) in enumerate(zip(LAYOUT, MOTIONS)):
        take = simulate_take(rig, [Actor(motion, seed=i)], 40, 30.0, "body25", ErrorModel(),
                             seed=10 + i)
        sessions.append(write_session(root / rel, rig, take,
                                      settings={"export": {"formats": ["bvh"]}}))
    broken = root / "day2" / "broken"
    shutil.copytree(sessions[0] / "pose", broken / "pose")
    (broken / "calibration.toml").write_text("[cam1]\nname = 'cam1'\n")   # no intrinsics
    (root / "notes").mkdir()
    (root / "notes" / "readme.txt").write_text("not a session")
    (root / "day1" / "calibration_only").mkdir()
    (root / "day1" / "calibration_only" / "calibration.toml").write_text("")
    return sessions


@pytest.fixture(scope="module")
def roots(tmp_path_factory, studio4):
    """The same inputs three times: run one by one (the reference), on Ray, in a pool."""
    base = tmp_path_factory.mktemp("batch")
    sessions = _make_root(base / "reference", studio4)
    for name in ("ray", "pool"):
        shutil.copytree(base / "reference", base / name)
    for s in sessions:
        run(s)
    return base


def _points_equal(a: Path, b: Path) -> None:
    with np.load(a) as da, np.load(b) as db:
        assert sorted(da.files) == sorted(db.files)
        for k in da.files:
            assert np.array_equal(da[k], db[k], equal_nan=da[k].dtype.kind == "f"), (a, k)


def test_find_sessions_in_sorted_order_and_skips_non_sessions(roots):
    found = find_sessions(roots / "reference")
    rel = [str(p.relative_to(roots / "reference")) for p in found]
    assert rel == ["day1/take0", "day1/take1", "day2/broken", "day2/take2", "take3"]
    assert not is_session(roots / "reference" / "day1" / "calibration_only")
    with pytest.raises(MocapError, match="not found"):
        find_sessions(roots / "nope")


@pytest.mark.slow
def test_batch_on_a_local_ray_cluster_equals_one_by_one(roots):
    ray = pytest.importorskip("ray", reason="Ray (extra 'ray') is not installed")
    sessions = find_sessions(roots / "ray")
    seen = []
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING",
             log_to_driver=False)
    try:
        results = run_batch(sessions, ray_address="auto", on_result=seen.append)
    finally:
        ray.shutdown()
    assert [Path(r.session) for r in results] == sessions
    assert sorted(r.session for r in seen) == sorted(str(s) for s in sessions)
    by_name = {Path(r.session).name: r for r in results}
    assert not by_name["broken"].ok and "calibration.toml" in by_name["broken"].error
    for rel in LAYOUT:
        r = by_name[Path(rel).name]
        assert r.ok, r.error
        assert r.people == 1 and "points3d.npz" in r.outputs
        for name in ("points3d.npz", "points3d_raw.npz"):
            _points_equal(roots / "ray" / rel / "out" / name,
                          roots / "reference" / rel / "out" / name)
    # the tasks ran in Ray's worker processes, not in this one
    assert all(not r.worker.endswith(f":{__import__('os').getpid()}") for r in results)


@pytest.mark.slow
def test_batch_command_in_a_local_pool_reports_the_failure_and_finishes_the_rest(
        roots, capsys, tmp_path):
    summary = tmp_path / "summary.json"
    code = cli_main(["batch", str(roots / "pool"), "--workers", "2", "--summary", str(summary)])
    out = capsys.readouterr().out
    assert code == 1                                   # one session failed
    assert "5 sessions: 4 ok, 1 failed" in out
    failed = [line for line in out.splitlines() if line.startswith("day2/broken")]
    assert len(failed) == 1 and "FAILED" in failed[0] and "calibration.toml" in failed[0]
    for rel in LAYOUT:
        _points_equal(roots / "pool" / rel / "out" / "points3d.npz",
                      roots / "reference" / rel / "out" / "points3d.npz")
    import json
    doc = json.loads(summary.read_text())
    assert [Path(d["session"]).name for d in doc] == ["take0", "take1", "broken", "take2",
                                                      "take3"]


def test_run_one_never_raises_and_names_the_error(tmp_path):
    res = run_one(tmp_path / "missing")
    assert not res.ok and "SessionError" in res.error and "missing" in res.error


def test_summary_table_lists_every_session_and_the_totals():
    from mocap.app.batch import SessionResult
    results = [SessionResult("/r/a", True, 1.25, people=2),
               SessionResult("/r/b", False, 0.5, "SessionError: /r/b: no calibration.toml")]
    text = summary_table(results, root="/r")
    lines = text.splitlines()
    assert lines[0].split() == ["session", "status", "seconds", "people", "error"]
    assert lines[2].split() == ["a", "ok", "1.2", "2"]
    assert lines[3].split()[:3] == ["b", "FAILED", "0.5"] and "no calibration" in lines[3]
    assert lines[-1] == "2 sessions: 1 ok, 1 failed, 1.8 s of work"


def test_batch_list_and_bad_arguments(roots, capsys):
    assert cli_main(["batch", str(roots / "reference"), "--list"]) == 0
    assert "5 sessions" in capsys.readouterr().out
    assert cli_main(["batch", str(roots / "reference" / "notes")]) == 1
    with pytest.raises(MocapError, match="workers"):
        run_batch([], workers=0)
