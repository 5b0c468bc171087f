"""Frame offsets between cameras, in the virtual studio (known offsets, realistic detector)."""
from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from mocap.evaluate import mpjpe_mm
from mocap.app.pipeline import run as run_pipeline
from mocap.settings import SyncSettings
from mocap.app.studio import write_session
from mocap.simulate import Actor, ErrorModel, simulate_take
from mocap.errors import SyncError
from mocap.sync import estimate_offsets, shift_detections, synchronise
from mocap.types import Points3D, load_npz


def _take(rig, offsets, motion="walk", model=ErrorModel(), frames=120, seed=2):
    return simulate_take(rig, [Actor(motion, seed=seed)], frames, 30.0, "body25", model,
                         seed=seed, camera_offsets=offsets)


@pytest.mark.parametrize("shift", [1, 2, 3, 4, 5, -3])
def test_one_shifted_camera_is_found_to_the_frame(studio4, shift):
    offsets = [0, 0, shift, 0]
    r = estimate_offsets(_take(studio4, offsets).detections)
    assert r.offsets == tuple(offsets) and r.estimated == tuple(offsets)
    assert all(r.trusted)


def test_several_shifted_cameras(studio4):
    offsets = [0, 5, -4, 2]
    r = estimate_offsets(_take(studio4, offsets, motion="jumping_jacks").detections)
    assert r.offsets == tuple(offsets)
    assert min(r.correlation) > 0.2 and min(r.margin) > 0.04
    assert "applied" in r.table() and "cam" in r.table()


def test_robust_to_a_few_bad_joints(studio4):
    """Three joints of one camera replaced by confident nonsense."""
    offsets = [0, 3, 0, -2]
    det = _take(studio4, offsets).detections
    rng = np.random.default_rng(5)
    xy, conf = det.xy.copy(), det.conf.copy()
    bad = [4, 7, 11]
    xy[1, :, 0, bad] = rng.uniform(0, 1000, (len(bad), det.num_frames, 2))
    conf[1, :, 0, bad] = 0.95
    assert estimate_offsets(det.replace(xy=xy, conf=conf)).offsets == tuple(offsets)


def test_correction_restores_the_synchronous_detections(studio4):
    """With a perfect detector the re-timed detections equal those of the synchronous take."""
    offsets = [0, -2, 4, 1]
    shifted = _take(studio4, offsets, model=ErrorModel.perfect()).detections
    synced = _take(studio4, [0, 0, 0, 0], model=ErrorModel.perfect()).detections
    fixed, result = synchronise(shifted, SyncSettings())
    assert result.offsets == tuple(offsets)
    inner = slice(4, -4)                                       # frames every camera recorded
    assert np.allclose(fixed.xy[:, inner], synced.xy[:, inner], equal_nan=True)
    assert np.isnan(fixed.xy[2, :4]).all() and (fixed.conf[2, :4] == 0).all()


def test_mocap_run_applies_the_offsets(studio4, tmp_path):
    take = _take(studio4, [0, 0, 4, 0], frames=90)
    folder = write_session(tmp_path / "s", studio4, take)
    run_pipeline(folder)
    report = json.loads((folder / "out" / "sync.json").read_text())
    assert report["offsets"] == [0, 0, 4, 0] and report["source"] == "estimated"
    gt = load_npz(folder / "gt.npz", ("xyz",), "gt")["xyz"]
    err_synced = mpjpe_mm(Points3D.load(folder / "out" / "points3d.npz").xyz, gt)
    (folder / "session.toml").write_text((folder / "session.toml").read_text()
                                         + "\n[sync]\nenabled = false\n")
    run_pipeline(folder)
    err_unsynced = mpjpe_mm(Points3D.load(folder / "out" / "points3d.npz").xyz, gt)
    assert err_synced < 0.8 * err_unsynced, (err_synced, err_unsynced)


def test_ambiguous_motion_is_reported_not_applied(studio4, caplog):
    """A slow squat gives flat correlation curves: nothing is trusted, offsets stay 0."""
    with caplog.at_level(logging.WARNING):
        r = estimate_offsets(_take(studio4, [0, 1, -2, 3], motion="squat").detections)
    assert r.offsets == (0, 0, 0, 0) and not any(r.trusted[1:])
    assert "not trusted" in caplog.text


def test_given_offsets_and_disabled(studio4, tmp_path):
    det = _take(studio4, [0, 0, 0, 0], model=ErrorModel.perfect(), frames=40).detections
    fixed, r = synchronise(det, SyncSettings(offsets=(0, 2, 0, 0)), report=tmp_path / "s.json")
    assert r.source == "settings" and r.offsets == (0, 2, 0, 0)
    assert np.allclose(fixed.xy[1, 2:], det.xy[1, :-2], equal_nan=True)
    assert json.loads((tmp_path / "s.json").read_text())["offsets"] == [0, 2, 0, 0]
    same, r = synchronise(det, SyncSettings(enabled=False))
    assert same is det and r.source == "disabled"
    with pytest.raises(SyncError, match=r"\[sync\] offsets has 2 entries, the rig has 4"):
        synchronise(det, SyncSettings(offsets=(0, 1)))


def test_shift_round_trip_and_heatmaps(studio4):
    det = simulate_take(studio4, [Actor("walk", seed=1)], 12, 30.0, "coco17",
                        ErrorModel.perfect(), heatmaps=True, heatmap_size=8).detections
    there = shift_detections(det, [0, 3, -2, 0])
    back = shift_detections(there, [0, -3, 2, 0])
    inner = slice(3, -3)
    assert np.allclose(back.xy[:, inner], det.xy[:, inner], equal_nan=True)
    assert np.array_equal(back.heatmaps[:, inner], det.heatmaps[:, inner])
    assert (there.heatmaps[1, :3] == 0).all()
    with pytest.raises(SyncError, match="one entry per camera"):
        shift_detections(det, [1, 2])


def test_too_few_frames(studio4):
    det = _take(studio4, [0, 0, 0, 0], model=ErrorModel.perfect(), frames=8).detections
    with pytest.raises(SyncError, match="the take has 8 frames, too few"):
        estimate_offsets(det)


def test_a_short_take_says_how_to_skip_sync(studio4, tmp_path, capsys):
    """8 frames: the message says how many the take has, the minimum, and the setting that
    skips the stage; `mocap run` prints that one line and exits non-zero."""
    from mocap.app.cli import main
    take = _take(studio4, [0, 0, 0, 0], model=ErrorModel.perfect(), frames=8)
    with pytest.raises(SyncError) as info:
        estimate_offsets(take.detections)
    expected = ("the take has 8 frames, too few to estimate the cameras' offsets (at least 12); "
                "set [sync] enabled = false in session.toml, or give [sync] offsets")
    assert str(info.value) == expected
    folder = write_session(tmp_path / "s", studio4, take)
    assert main(["run", str(folder)]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == f"error: {expected}"
